// Tests of the verified-key cache.
package licensing

import (
	"sync"
	"testing"
	"time"
)

func TestKeyCache(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	c := NewKeyCache(kr, 0)
	key := issueSample(t, kr)
	first, code, err := c.ParseKey(key)
	if err != nil || code != CodeValid {
		t.Fatal(err)
	}
	sigs := kr.Verifications()
	for _, variant := range []string{key, " " + key[:20] + "\n" + key[20:] + "\r\n"} {
		got, code, err := c.ParseKey(variant)
		if err != nil || code != CodeValid || got != first {
			t.Fatalf("hit: got %v %v %v, want the cached claims", got, code, err)
		}
	}
	if got := kr.Verifications(); got != sigs {
		t.Errorf("verifications on hits: got %v, want %v", got, sigs)
	}
	if hits, misses, _ := c.Stats(); hits != 2 || misses != 1 {
		t.Errorf("stats: got %v hits %v misses, want 2 1", hits, misses)
	}
	// Failures are not cached and keep their codes.
	if _, code, _ := c.ParseKey(key[:len(key)-1] + "x"); code != CodeInvalidKey {
		t.Errorf("bad key: got %v, want %v", code, CodeInvalidKey)
	}
	// A generation change empties the cache.
	if _, err := kr.Rotate(AlgEdDSA, testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	again, _, err := c.ParseKey(key)
	if err != nil || again == first || kr.Verifications() != sigs+1 {
		t.Errorf("after rotation: got %v (verifications %v), want a fresh verification", err, kr.Verifications()-sigs)
	}
	if _, _, resets := c.Stats(); resets != 1 || c.Len() != 1 {
		t.Errorf("resets: got %v len %v, want 1 1", resets, c.Len())
	}
}

func TestKeyCacheBounded(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	c := NewKeyCache(kr, 4)
	var keys []string
	for i := 0; i < 10; i++ {
		cl := sampleClaims()
		cl.KeyID = "key-" + itoa(int64(i))
		k, err := kr.IssueKey(cl, testNow)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		if _, _, err := c.ParseKey(k); err != nil {
			t.Fatal(err)
		}
		if c.Len() > 4 {
			t.Fatalf("len: got %v, want at most 4", c.Len())
		}
	}
	// A key used again keeps its slot (second chance) over one not used.
	if _, _, err := c.ParseKey(keys[9]); err != nil {
		t.Fatal(err)
	}
	_, _, _ = c.ParseKey(keys[0])
	before := kr.Verifications()
	_, _, _ = c.ParseKey(keys[9])
	if got := kr.Verifications(); got != before {
		t.Errorf("recently used key evicted: got %v verifications, want 0", got-before)
	}
}

func TestKeyCacheConcurrent(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	c := NewKeyCache(kr, 8)
	var keys []string
	for i := 0; i < 16; i++ {
		cl := sampleClaims()
		cl.KeyID = "key-" + itoa(int64(i))
		keys = append(keys, must(kr.IssueKey(cl, testNow)))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := keys[(g*7+i)%len(keys)]
				cl, code, err := c.ParseKey(k)
				if err != nil || code != CodeValid || cl.LicenseID != sampleClaims().LicenseID {
					t.Errorf("got %v %v, want VALID", code, err)
					return
				}
				if i == 100 && g == 0 {
					_, _ = kr.Rotate(AlgEdDSA, testNow)
				}
			}
		}(g)
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Errorf("len: got %v, want at most 8", c.Len())
	}
}

func TestKeyCacheHitDoesNotAllocate(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	c := NewKeyCache(kr, 0)
	key := issueSample(t, kr)
	if _, _, err := c.ParseKey(key); err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(100, func() { _, _, _ = c.ParseKey(key) }); got != 0 {
		t.Errorf("got %v allocs, want 0", got)
	}
}
