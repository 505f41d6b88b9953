// The filesystem store: blobs as files under a directory, written through a
// temporary file and renamed into place, downloaded through URLs the portal
// signs with HMAC-SHA256 and verifies itself.

package blobstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FS keeps blobs under Dir and signs download URLs with Secret.
type FS struct {
	dir     string
	secret  []byte
	baseURL string // e.g. https://nls.example.com/dl
	now     func() time.Time
}

// NewFS returns a filesystem store. baseURL is the public URL of the route
// that serves signed downloads (see Verify); secret signs them.
func NewFS(dir string, secret []byte, baseURL string, now func() time.Time) (*FS, error) {
	if len(secret) < 32 {
		return nil, errors.New("blobstore: the download signing secret needs at least 32 bytes")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &FS{dir: dir, secret: secret, baseURL: strings.TrimRight(baseURL, "/"), now: now}, nil
}

// validKey keeps keys to a flat, safe alphabet: they become file names.
func validKey(key string) bool {
	if key == "" || len(key) > 200 || strings.HasPrefix(key, ".") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Path is the file holding key.
func (s *FS) Path(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("blobstore: invalid key %q", key)
	}
	return filepath.Join(s.dir, key), nil
}

// Put implements Store.
func (s *FS) Put(ctx context.Context, key string, r io.Reader) (Written, error) {
	path, err := s.Path(key)
	if err != nil {
		return Written{}, err
	}
	f, err := os.CreateTemp(s.dir, ".upload-*")
	if err != nil {
		return Written{}, err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	h := sha256.New()
	// io.Copy with a 256 KiB buffer: memory stays bounded whatever the size.
	n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, make([]byte, 256<<10))
	if err != nil {
		f.Close()
		return Written{}, err
	}
	if err := f.Close(); err != nil {
		return Written{}, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return Written{}, err
	}
	var w Written
	w.Size = n
	copy(w.SHA256[:], h.Sum(nil))
	return w, nil
}

// ctxReader stops a long copy when the request is gone.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Delete implements Store.
func (s *FS) Delete(_ context.Context, key string) error {
	path, err := s.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// DownloadURL implements Store: baseURL/key?name=&type=&exp=&sig=.
func (s *FS) DownloadURL(_ context.Context, key, filename, contentType string, ttl time.Duration) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("blobstore: invalid key %q", key)
	}
	exp := strconv.FormatInt(s.now().Add(ttl).Unix(), 10)
	q := url.Values{"name": {filename}, "type": {contentType}, "exp": {exp}}
	q.Set("sig", s.sign(key, filename, contentType, exp))
	return s.baseURL + "/" + key + "?" + q.Encode(), nil
}

func (s *FS) sign(key, filename, contentType, exp string) string {
	m := hmac.New(sha256.New, s.secret)
	for _, part := range []string{key, filename, contentType, exp} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Download is what a verified signed URL serves.
type Download struct {
	Path        string
	Filename    string
	ContentType string
}

// Verify checks a signed download request and answers the file to serve.
// Any failure is ErrNotFound-like for the caller: a forged, altered or
// expired link reveals nothing about what exists.
func (s *FS) Verify(key string, q url.Values) (Download, error) {
	path, err := s.Path(key)
	if err != nil {
		return Download{}, ErrNotFound
	}
	name, typ, exp, sig := q.Get("name"), q.Get("type"), q.Get("exp"), q.Get("sig")
	want := s.sign(key, name, typ, exp)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return Download{}, ErrInvalidSignature
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return Download{}, ErrExpired
	}
	return Download{Path: path, Filename: name, ContentType: typ}, nil
}

// Errors of Verify.
var (
	ErrInvalidSignature = errors.New("download link signature is invalid")
	ErrExpired          = errors.New("download link has expired")
)
