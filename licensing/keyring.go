// The signing keyring: keys with a kid each, loaded from and saved to PEM
// files, rotation, and the public views (List, JWKS) of the key set.

package licensing

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Alg is a JWS signing algorithm the keyring supports.
type Alg string

// Supported algorithms. EdDSA (Ed25519) is the default: small keys, small
// signatures, fast verification.
//
// HS256 is server-side only: an HMAC secret verifies what it signs, so it is
// never published (JWKS leaves it out) and customers cannot verify an
// HS256-signed key or lease offline. Leases are never HMAC-signed.
const (
	AlgEdDSA Alg = "EdDSA"
	AlgRS256 Alg = "RS256"
	AlgPS256 Alg = "PS256"
	AlgHS256 Alg = "HS256"
)

// Key file format (one file per key, in the keyring folder):
//
//	{kid}.pem   PEM block "PRIVATE KEY" (PKCS#8) for Ed25519 and RSA, or
//	            "NLS HMAC KEY" (raw secret, 32+ bytes) for HS256.
//	            PEM headers: "Alg" (EdDSA, RS256, PS256 or HS256; an RSA key
//	            without it is RS256) and "Created" (RFC 3339; the file's
//	            modification time when missing).
//	current     the kid of the current signing key, one line. When missing,
//	            the newest key (by Created) is current.
//
// Key files must have no group or other permission bits (0600); loading
// refuses any that do. The folder is created 0700.
const (
	pemPrivateKey = "PRIVATE KEY"
	pemHMACKey    = "NLS HMAC KEY"
	currentFile   = "current"
	minRSABits    = 2048
	minHMACBytes  = 32
	genRSABits    = 3072
)

// KeyInfo describes one key of the keyring, without secrets.
type KeyInfo struct {
	Kid     string
	Alg     Alg
	Created time.Time
	Current bool
	// Fingerprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the
	// public key; empty for HMAC keys, which have no public part.
	Fingerprint string
}

// verifyKey is one key as verification needs it. The parser pins the alg of
// this kid, so a token can never choose how it is checked.
type verifyKey struct {
	kid       string
	alg       Alg
	pub       any // ed25519.PublicKey, *rsa.PublicKey, or []byte for HMAC
	keyParser *jwt.Parser
	keyfunc   jwt.Keyfunc
}

// signKey is a private key able to sign.
type signKey struct {
	info   KeyInfo
	method jwt.SigningMethod
	priv   any // ed25519.PrivateKey, *rsa.PrivateKey, []byte
	// header is the encoded protected header of an Ed25519 key's tokens
	// (signEdDSA); "" for other keys.
	header string
}

// keySet is an immutable snapshot; changes build a new one, so the verify
// path reads it without locks.
type keySet struct {
	gen     uint64
	verify  map[string]*verifyKey
	sign    map[string]*signKey
	current string
}

// Keyring holds the signing keys. It is safe for concurrent use: reads take
// no lock, changes are serialised and persisted before they take effect.
type Keyring struct {
	dir  string // "" keeps keys in memory only (tests, tools)
	mu   sync.Mutex
	set  atomic.Pointer[keySet]
	gen  atomic.Uint64
	sigs atomic.Uint64 // signature verifications done, for tests and metrics
	// edSign, when set, signs in place of crypto/ed25519 (UseEd25519Signer).
	edSign atomic.Pointer[Ed25519Signer]
}

// Ed25519Signer signs message with priv as crypto/ed25519.Sign does: RFC
// 8032's deterministic Ed25519, the same 64 bytes for the same key and
// message, so that whoever verifies cannot tell which signed.
type Ed25519Signer func(priv ed25519.PrivateKey, message []byte) []byte

// UseEd25519Signer makes the keyring sign with f, rather than with
// crypto/ed25519, every key, lease and registry token of an Ed25519 key.
// It exists so that a server may use a faster implementation without this
// package, which the client packages import, depending on it.
func (k *Keyring) UseEd25519Signer(f Ed25519Signer) { k.edSign.Store(&f) }

// ed25519Signer is the signer UseEd25519Signer set, or crypto/ed25519's.
func (k *Keyring) ed25519Signer() Ed25519Signer {
	if f := k.edSign.Load(); f != nil {
		return *f
	}
	return ed25519.Sign
}

// NewKeyring returns an empty in-memory keyring: keys added to it are not
// saved anywhere. Servers use LoadOrInitKeyring.
func NewKeyring() *Keyring {
	k := &Keyring{}
	k.set.Store(&keySet{verify: map[string]*verifyKey{}, sign: map[string]*signKey{}})
	return k
}

// Generation changes whenever the key set changes; caches of verified keys
// compare it to know they are stale.
func (k *Keyring) Generation() uint64 { return k.set.Load().gen }

// Verifications counts signature checks done, so that operators (and tests)
// can see the cache at work.
func (k *Keyring) Verifications() uint64 { return k.sigs.Load() }

// Dir is the folder the keyring persists to ("" for in-memory).
func (k *Keyring) Dir() string { return k.dir }

// CurrentKid is the kid new keys are signed with ("" when empty).
func (k *Keyring) CurrentKid() string { return k.set.Load().current }

// List describes every key, oldest first.
func (k *Keyring) List() []KeyInfo {
	s := k.set.Load()
	out := make([]KeyInfo, 0, len(s.sign))
	for _, sk := range s.sign {
		info := sk.info
		info.Current = info.Kid == s.current
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Kid, b.Kid)
	})
	return out
}

// LoadKeyring reads every key file in dir. It fails when dir holds no key.
func LoadKeyring(dir string) (*Keyring, error) {
	k, n, err := loadKeyring(dir)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("keyring %s holds no key (*.pem)", dir)
	}
	return k, nil
}

// LoadOrInitKeyring loads the keyring in dir; on a first start (dir missing
// or holding no key) it creates dir (0700) with one Ed25519 key (0600) as the
// current key, and reports created.
func LoadOrInitKeyring(dir string, now time.Time) (k *Keyring, created bool, err error) {
	k, n, err := loadKeyring(dir)
	if err != nil {
		return nil, false, err
	}
	if n > 0 {
		return k, false, nil
	}
	if _, err := k.Rotate(AlgEdDSA, now); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

func loadKeyring(dir string) (*Keyring, int, error) {
	if dir == "" {
		return nil, 0, errors.New("keyring folder not configured")
	}
	k := NewKeyring()
	k.dir = dir
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return k, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("keyring: %w", err)
	}
	s := &keySet{verify: map[string]*verifyKey{}, sign: map[string]*signKey{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".pem") {
			continue
		}
		kid := strings.TrimSuffix(name, ".pem")
		if !validKid(kid) {
			return nil, 0, fmt.Errorf("keyring: %s: a kid (the file name without .pem) uses only letters, digits, - and _ (at most 64)", filepath.Join(dir, name))
		}
		sk, err := readKeyFile(filepath.Join(dir, name), kid)
		if err != nil {
			return nil, 0, err
		}
		if err := s.add(sk); err != nil {
			return nil, 0, err
		}
	}
	if len(s.sign) == 0 {
		return k, 0, nil
	}
	cur, err := os.ReadFile(filepath.Join(dir, currentFile))
	switch {
	case err == nil:
		s.current = strings.TrimSpace(string(cur))
		if _, ok := s.sign[s.current]; !ok {
			return nil, 0, fmt.Errorf("keyring: %s names kid %q, which has no key file", filepath.Join(dir, currentFile), s.current)
		}
	case errors.Is(err, os.ErrNotExist):
		s.current = newestKid(s)
	default:
		return nil, 0, fmt.Errorf("keyring: %w", err)
	}
	s.gen = k.gen.Add(1)
	k.set.Store(s)
	return k, len(s.sign), nil
}

func newestKid(s *keySet) string {
	var best *signKey
	for _, sk := range s.sign {
		if best == nil || sk.info.Created.After(best.info.Created) ||
			sk.info.Created.Equal(best.info.Created) && sk.info.Kid > best.info.Kid {
			best = sk
		}
	}
	if best == nil {
		return ""
	}
	return best.info.Kid
}

func validKid(kid string) bool {
	if kid == "" || len(kid) > 64 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if !isB64URL(kid[i]) {
			return false
		}
	}
	return true
}

// readKeyFile opens a key file and refuses it unless only its owner can read
// it: a private key readable by others is already leaked.
func readKeyFile(path, kid string) (*signKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keyring: private key file %s has mode %04o; it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keyring: %s holds no PEM block", path)
	}
	created := st.ModTime().UTC()
	if c := block.Headers["Created"]; c != "" {
		if created, err = time.Parse(time.RFC3339, c); err != nil {
			return nil, fmt.Errorf("keyring: %s: Created header: %w", path, err)
		}
	}
	alg := Alg(block.Headers["Alg"])
	var priv any
	switch block.Type {
	case pemPrivateKey:
		if priv, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("keyring: %s: %w", path, err)
		}
		if _, isRSA := priv.(*rsa.PrivateKey); isRSA && alg == "" {
			alg = AlgRS256
		}
		if _, isEd := priv.(ed25519.PrivateKey); isEd && alg == "" {
			alg = AlgEdDSA
		}
	case pemHMACKey:
		priv = block.Bytes
		if alg == "" {
			alg = AlgHS256
		}
	default:
		return nil, fmt.Errorf("keyring: %s: PEM type %q; want %q or %q", path, block.Type, pemPrivateKey, pemHMACKey)
	}
	sk, err := newSignKey(kid, alg, priv, created)
	if err != nil {
		return nil, fmt.Errorf("keyring: %s: %w", path, err)
	}
	return sk, nil
}

// newSignKey checks that priv suits alg (RSA of 2048 bits or more, HMAC
// secrets of 32 bytes or more) and builds the signing and verifying forms.
func newSignKey(kid string, alg Alg, priv any, created time.Time) (*signKey, error) {
	if !validKid(kid) {
		return nil, fmt.Errorf("invalid kid %q", kid)
	}
	sk := &signKey{info: KeyInfo{Kid: kid, Alg: alg, Created: created.UTC()}, priv: priv}
	switch alg {
	case AlgEdDSA:
		p, ok := priv.(ed25519.PrivateKey)
		if !ok || len(p) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("alg EdDSA needs an Ed25519 key, got %T", priv)
		}
		sk.method = jwt.SigningMethodEdDSA
		// As jwt's Token marshals its header map: keys sorted.
		h, err := json.Marshal(map[string]string{"alg": sk.method.Alg(), "kid": kid, "typ": "JWT"})
		if err != nil {
			return nil, err
		}
		sk.header = base64.RawURLEncoding.EncodeToString(h)
	case AlgRS256, AlgPS256:
		p, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("alg %s needs an RSA key, got %T", alg, priv)
		}
		if bits := p.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits refused: at least %d bits are required", bits, minRSABits)
		}
		sk.method = jwt.SigningMethodRS256
		if alg == AlgPS256 {
			sk.method = jwt.SigningMethodPS256
		}
	case AlgHS256:
		p, ok := priv.([]byte)
		if !ok || len(p) < minHMACBytes {
			return nil, fmt.Errorf("alg HS256 needs a secret of at least %d bytes", minHMACBytes)
		}
		sk.method = jwt.SigningMethodHS256
	default:
		return nil, fmt.Errorf("unsupported alg %q (EdDSA, RS256, PS256, HS256)", alg)
	}
	if alg != AlgHS256 {
		fp, err := thumbprint(publicOf(priv))
		if err != nil {
			return nil, err
		}
		sk.info.Fingerprint = fp
	}
	return sk, nil
}

func publicOf(priv any) any {
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		return p.Public().(ed25519.PublicKey)
	case *rsa.PrivateKey:
		return &p.PublicKey
	}
	return priv // HMAC: the secret verifies
}

// newVerifyKey builds the verifying form of a key, with a parser that accepts
// only alg. Strict decoding refuses non-zero padding bits, so a tampered
// signature character cannot decode to the same bytes.
func newVerifyKey(kid string, alg Alg, pub any) *verifyKey {
	vk := &verifyKey{kid: kid, alg: alg, pub: pub}
	vk.keyParser = jwt.NewParser(jwt.WithValidMethods([]string{string(alg)}), jwt.WithStrictDecoding())
	vk.keyfunc = func(*jwt.Token) (any, error) { return vk.pub, nil }
	return vk
}

func (s *keySet) add(sk *signKey) error {
	kid := sk.info.Kid
	if _, dup := s.sign[kid]; dup {
		return fmt.Errorf("duplicate kid %q", kid)
	}
	s.sign[kid] = sk
	s.verify[kid] = newVerifyKey(kid, sk.info.Alg, publicOf(sk.priv))
	return nil
}

func (s *keySet) clone() *keySet {
	c := &keySet{verify: make(map[string]*verifyKey, len(s.verify)+1),
		sign: make(map[string]*signKey, len(s.sign)+1), current: s.current}
	for kid, v := range s.verify {
		c.verify[kid] = v
	}
	for kid, v := range s.sign {
		c.sign[kid] = v
	}
	return c
}

// NewKid returns a fresh kid: the UTC date, for humans, and 64 random bits.
func NewKid(now time.Time) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:]), nil
}

// generatePrivate makes a new private key for alg.
func generatePrivate(alg Alg) (any, error) {
	switch alg {
	case AlgEdDSA:
		_, p, err := ed25519.GenerateKey(rand.Reader)
		return p, err
	case AlgRS256, AlgPS256:
		return rsa.GenerateKey(rand.Reader, genRSABits)
	case AlgHS256:
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	}
	return nil, fmt.Errorf("unsupported alg %q (EdDSA, RS256, PS256, HS256)", alg)
}

// GenerateKey creates a key for alg and adds it (saved to the keyring folder
// first, when there is one). It becomes current only when the keyring had no
// key; Rotate makes it current.
func (k *Keyring) GenerateKey(alg Alg, now time.Time) (KeyInfo, error) {
	return k.generate(alg, now, false)
}

// Rotate creates a key for alg and makes it current. Older keys keep
// verifying what they signed until removed from the folder.
func (k *Keyring) Rotate(alg Alg, now time.Time) (KeyInfo, error) {
	return k.generate(alg, now, true)
}

func (k *Keyring) generate(alg Alg, now time.Time, makeCurrent bool) (KeyInfo, error) {
	priv, err := generatePrivate(alg)
	if err != nil {
		return KeyInfo{}, err
	}
	kid, err := NewKid(now)
	if err != nil {
		return KeyInfo{}, err
	}
	return k.AddKey(kid, alg, priv, now, makeCurrent)
}

// AddKey adds an existing private key (ed25519.PrivateKey, *rsa.PrivateKey,
// or an HMAC secret as []byte), e.g. one imported from another system.
func (k *Keyring) AddKey(kid string, alg Alg, priv any, created time.Time, makeCurrent bool) (KeyInfo, error) {
	sk, err := newSignKey(kid, alg, priv, created.Truncate(time.Second))
	if err != nil {
		return KeyInfo{}, Invalid(err.Error())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.set.Load().clone()
	if err := s.add(sk); err != nil {
		return KeyInfo{}, Errorf(ECONFLICT, "%v", err)
	}
	if makeCurrent || s.current == "" {
		s.current = kid
	}
	if k.dir != "" {
		if err := writeKeyFile(k.dir, sk); err != nil {
			return KeyInfo{}, err
		}
		if err := writeFileAtomic(k.dir, currentFile, []byte(s.current+"\n")); err != nil {
			return KeyInfo{}, err
		}
	}
	s.gen = k.gen.Add(1)
	k.set.Store(s)
	info := sk.info
	info.Current = s.current == kid
	return info, nil
}

func writeKeyFile(dir string, sk *signKey) error {
	block := &pem.Block{Headers: map[string]string{"Alg": string(sk.info.Alg),
		"Created": sk.info.Created.UTC().Format(time.RFC3339)}}
	if b, ok := sk.priv.([]byte); ok {
		block.Type, block.Bytes = pemHMACKey, b
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(sk.priv)
		if err != nil {
			return err
		}
		block.Type, block.Bytes = pemPrivateKey, der
	}
	name := sk.info.Kid + ".pem"
	if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
		return fmt.Errorf("keyring: %s already exists", filepath.Join(dir, name))
	}
	return writeFileAtomic(dir, name, pem.EncodeToMemory(block))
}

// writeFileAtomic writes through a 0600 temporary file and a rename, so that
// a crash never leaves a half-written key and no key is ever world-readable.
func writeFileAtomic(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return nil
}

// jwk is one public key of a JWKS (RFC 7517; OKP keys per RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use,omitempty"`
}

func publicJWK(kid string, alg Alg, pub any) (jwk, bool) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(p),
			Kid: kid, Alg: string(alg), Use: "sig"}, true
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: base64.RawURLEncoding.EncodeToString(p.N.Bytes()),
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(p.E)).Bytes()),
			Kid: kid, Alg: string(alg), Use: "sig"}, true
	}
	return jwk{}, false // HMAC secrets are never published
}

// thumbprint is the RFC 7638 JWK thumbprint of a public key: SHA-256 over
// the required members in lexicographic order, base64url.
func thumbprint(pub any) (string, error) {
	var canon string
	switch p := pub.(type) {
	case ed25519.PublicKey:
		canon = `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(p) + `"}`
	case *rsa.PublicKey:
		canon = `{"e":"` + base64.RawURLEncoding.EncodeToString(big.NewInt(int64(p.E)).Bytes()) +
			`","kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(p.N.Bytes()) + `"}`
	default:
		return "", fmt.Errorf("no thumbprint for %T", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// JWKS is the public key set, {"keys":[...]}, oldest key first: Ed25519 as
// OKP, RSA as RSA, each with kid, alg and use "sig". HMAC keys and private
// parts are never included.
func (k *Keyring) JWKS() ([]byte, error) {
	s := k.set.Load()
	keys := make([]jwk, 0, len(s.verify))
	for _, info := range k.List() {
		if j, ok := publicJWK(info.Kid, info.Alg, s.verify[info.Kid].pub); ok {
			keys = append(keys, j)
		}
	}
	return json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{keys})
}

// Verifier checks license keys and leases with public keys only: what the
// client package and other consumers of the JWKS use. The alg of each kid is
// pinned by the JWKS entry.
type Verifier struct {
	set *keySet
}

// ParseJWKS builds a Verifier from a JWKS document. Entries for encryption
// ("use": "enc") or of unknown key types are skipped; symmetric ("oct") keys
// are refused, as are RSA keys under 2048 bits and kid/alg pairs that do not
// fit the key type. At least one usable key is required.
func ParseJWKS(data []byte) (*Verifier, error) {
	var doc struct {
		Keys []struct {
			jwk
			D string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, Errorf(EMALFORMED, "JWKS is not valid JSON: %v", err)
	}
	s := &keySet{verify: map[string]*verifyKey{}}
	for i, j := range doc.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		if j.D != "" {
			return nil, Invalid(fmt.Sprintf("JWKS key %d carries a private part; refusing it", i))
		}
		if !validKid(j.Kid) {
			return nil, Invalid(fmt.Sprintf("JWKS key %d: invalid kid %q", i, j.Kid))
		}
		var pub any
		switch j.Kty {
		case "OKP":
			x, err := base64.RawURLEncoding.DecodeString(j.X)
			if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize || Alg(j.Alg) != AlgEdDSA {
				return nil, Invalid(fmt.Sprintf("JWKS key %s: want an Ed25519 OKP key with alg EdDSA", j.Kid))
			}
			pub = ed25519.PublicKey(x)
		case "RSA":
			n, errN := base64.RawURLEncoding.DecodeString(j.N)
			e, errE := base64.RawURLEncoding.DecodeString(j.E)
			if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 || (Alg(j.Alg) != AlgRS256 && Alg(j.Alg) != AlgPS256) {
				return nil, Invalid(fmt.Sprintf("JWKS key %s: want an RSA key with alg RS256 or PS256", j.Kid))
			}
			pk := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pk.N.BitLen() < minRSABits || pk.E < 3 || pk.E%2 == 0 {
				return nil, Invalid(fmt.Sprintf("JWKS key %s: RSA keys need at least %d bits and an odd exponent", j.Kid, minRSABits))
			}
			pub = pk
		case "oct":
			return nil, Invalid(fmt.Sprintf("JWKS key %s: symmetric keys are never published", j.Kid))
		default:
			continue
		}
		if _, dup := s.verify[j.Kid]; dup {
			return nil, Invalid(fmt.Sprintf("JWKS: duplicate kid %q", j.Kid))
		}
		s.verify[j.Kid] = newVerifyKey(j.Kid, Alg(j.Alg), pub)
	}
	if len(s.verify) == 0 {
		return nil, Invalid("JWKS holds no usable signing key")
	}
	return &Verifier{set: s}, nil
}

// Kids lists the kids the verifier knows, sorted.
func (v *Verifier) Kids() []string {
	out := make([]string, 0, len(v.set.verify))
	for kid := range v.set.verify {
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}
