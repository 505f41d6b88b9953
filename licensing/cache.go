// A bounded cache of verified license keys, so that a key seen before is not
// signature-checked again on every validation.

package licensing

import (
	"sync"
	"sync/atomic"
)

// DefaultKeyCacheSize is the default number of keys a KeyCache holds: as
// many licenses as one process's facts cache serves at the size vendors
// run. A key's entry measured 842 bytes (Ed25519, two features, one
// limit), so a full cache is about 84 MB; it grows only with the keys
// actually validated. At 10,000 a process serving more licenses verified a
// signature on a share of its heartbeats (make bench: about 40 allocations
// each).
const DefaultKeyCacheSize = 100_000

// KeyCache remembers the claims of keys a Keyring verified, keyed by
// KeyHash. It forgets everything when the keyring's generation changes (a
// key added, rotated or removed), so a dropped signing key stops verifying
// at once. Eviction is CLOCK (second chance): cheap on hits, close to LRU.
// Only successes are cached: failures are cheap to recompute up to the
// checksum, and caching them would let garbage evict real keys. Safe for
// concurrent use.
type KeyCache struct {
	kr  *Keyring
	cap int

	mu      sync.RWMutex
	gen     uint64
	index   map[[32]byte]int32 // hash → slot
	slots   []cacheSlot
	hand    int
	hits    atomic.Uint64
	misses  atomic.Uint64
	cleared atomic.Uint64
}

type cacheSlot struct {
	hash   [32]byte
	claims *KeyClaims
	ref    atomic.Bool
}

// NewKeyCache wraps kr with a cache of capacity keys (DefaultKeyCacheSize
// when capacity <= 0).
func NewKeyCache(kr *Keyring, capacity int) *KeyCache {
	if capacity <= 0 {
		capacity = DefaultKeyCacheSize
	}
	// Room grows with the keys seen, not up front.
	hint := min(capacity, 1024)
	return &KeyCache{kr: kr, cap: capacity, gen: kr.Generation(),
		index: make(map[[32]byte]int32, hint), slots: make([]cacheSlot, 0, hint)}
}

// Len is the number of cached keys.
func (c *KeyCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.index)
}

// Stats reports hits, misses and generation resets since creation.
func (c *KeyCache) Stats() (hits, misses, resets uint64) {
	return c.hits.Load(), c.misses.Load(), c.cleared.Load()
}

// ParseKey is Keyring.ParseKey through the cache. The claims returned are
// shared with other callers: treat them as read-only.
func (c *KeyCache) ParseKey(key string) (*KeyClaims, ValidationCode, error) {
	if len(key) > maxKeyLen {
		return nil, CodeInvalidKey, invalidKey("the key is too long")
	}
	// A hit needs no checksum: the SHA-256 of the exact text matched a key
	// verified before. Misses go through the full parse below.
	norm := stripKeySpace(key)
	h := KeyHash(norm)
	gen := c.kr.Generation()
	c.mu.RLock()
	if c.gen == gen {
		if i, ok := c.index[h]; ok {
			s := &c.slots[i]
			claims := s.claims
			if !s.ref.Load() {
				s.ref.Store(true)
			}
			c.mu.RUnlock()
			c.hits.Add(1)
			return claims, CodeValid, nil
		}
	}
	c.mu.RUnlock()
	c.misses.Add(1)
	// The generation is read before verifying: if the keyring changes
	// meanwhile, the entry is stored under the old generation and dropped.
	claims, code, err := parseKey(c.kr.set.Load(), &c.kr.sigs, norm)
	if err != nil {
		return nil, code, err
	}
	c.put(gen, h, claims)
	return claims, code, nil
}

func (c *KeyCache) put(gen uint64, h [32]byte, claims *KeyClaims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		if gen < c.gen {
			return // verified under a key set that is already gone
		}
		clear(c.index)
		for i := range c.slots {
			c.slots[i].claims = nil
		}
		c.slots, c.hand, c.gen = c.slots[:0], 0, gen
		c.cleared.Add(1)
	}
	if _, ok := c.index[h]; ok {
		return
	}
	if len(c.slots) < c.cap {
		c.slots = append(c.slots, cacheSlot{hash: h, claims: claims})
		c.index[h] = int32(len(c.slots) - 1)
		return
	}
	// CLOCK: clear reference bits until an unreferenced slot comes round.
	for {
		s := &c.slots[c.hand]
		if s.ref.Load() {
			s.ref.Store(false)
			c.hand = (c.hand + 1) % len(c.slots)
			continue
		}
		delete(c.index, s.hash)
		s.hash, s.claims = h, claims
		c.index[h] = int32(c.hand)
		c.hand = (c.hand + 1) % len(c.slots)
		return
	}
}
