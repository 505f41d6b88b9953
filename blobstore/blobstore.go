// Package blobstore keeps release artifacts: a Store interface with a local
// filesystem implementation (the default, under the data dir) whose
// downloads are HMAC-signed short-lived URLs served by the portal itself.
// Writes stream: the content is hashed while it is written, never held in
// memory whole.
package blobstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned for a key the store does not hold.
var ErrNotFound = errors.New("blob not found")

// Written describes a stored blob.
type Written struct {
	Size   int64
	SHA256 [32]byte
}

// Store is where artifacts live.
type Store interface {
	// Put streams r into key, hashing as it goes. A failed Put leaves nothing.
	Put(ctx context.Context, key string, r io.Reader) (Written, error)
	// DownloadURL answers a URL that serves key for ttl, under filename.
	DownloadURL(ctx context.Context, key, filename, contentType string, ttl time.Duration) (string, error)
	// Delete removes key; a missing key is no error.
	Delete(ctx context.Context, key string) error
}
