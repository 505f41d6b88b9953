// Tests of the filesystem store: streamed writes with their hash, and signed
// download links that refuse tampering and expiry.

package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFSPutAndSignedURL(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s, err := NewFS(t.TempDir(), bytes.Repeat([]byte{7}, 32), "https://nls.test/dl", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("artifact"), 100_000)
	w, err := s.Put(context.Background(), "k1", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if w.Size != int64(len(data)) || w.SHA256 != sha256.Sum256(data) {
		t.Fatalf("got size %d hash %x, want %d %x", w.Size, w.SHA256, len(data), sha256.Sum256(data))
	}
	raw, err := s.DownloadURL(context.Background(), "k1", "app.tar.gz", "application/gzip", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	key := strings.TrimPrefix(u.Path, "/dl/")
	d, err := s.Verify(key, u.Query())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, _ := os.ReadFile(d.Path)
	if !bytes.Equal(got, data) || d.Filename != "app.tar.gz" || d.ContentType != "application/gzip" {
		t.Fatalf("served %d bytes as %q %q", len(got), d.Filename, d.ContentType)
	}

	tampered := u.Query()
	tampered.Set("name", "other.tar.gz")
	if _, err := s.Verify(key, tampered); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("tampered name: got %v, want invalid signature", err)
	}
	if _, err := s.Verify("k2", u.Query()); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("other key: got %v, want invalid signature", err)
	}
	now = now.Add(time.Minute - time.Nanosecond)
	if _, err := s.Verify(key, u.Query()); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	now = now.Add(time.Nanosecond)
	if _, err := s.Verify(key, u.Query()); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: got %v, want expired", err)
	}
	if _, err := s.Put(context.Background(), "../escape", bytes.NewReader(nil)); err == nil {
		t.Error("a key with a path separator was accepted")
	}
}
