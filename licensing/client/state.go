// The state directory: what the client keeps on disk between runs, each file
// written atomically (temporary file, fsync, rename, fsync of the folder) so
// that a crash leaves either the old content or the new, never half of one.
//
//	deployment-id   the installation's id, generated once
//	jwks.json       the pinned public keys that verify leases
//	lease.jwt       the newest lease the server signed for this deployment
//	last-seen       the newest time seen (server time, lease iat, own clock),
//	                Unix seconds: the clock-tampering high-water mark
//	outbox/<id>.json usage batches persisted before they are sent

package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	fileDeploymentID = "deployment-id"
	fileJWKS         = "jwks.json"
	fileLease        = "lease.jwt"
	fileLastSeen     = "last-seen"
	dirOutbox        = "outbox"
	dirRejected      = "rejected"
)

// stateDir reads and writes the files of a state directory.
type stateDir string

func (d stateDir) path(name ...string) string {
	return filepath.Join(append([]string{string(d)}, name...)...)
}

func (d stateDir) init() error {
	if err := os.MkdirAll(d.path(dirOutbox), 0o700); err != nil {
		return fmt.Errorf("nls client: state dir: %w", err)
	}
	return nil
}

// read returns a file's content, or nil without error when it does not exist.
func (d stateDir) read(name ...string) ([]byte, error) {
	b, err := os.ReadFile(d.path(name...))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (d stateDir) write(data []byte, name ...string) error {
	return writeFileAtomic(d.path(name...), data)
}

func (d stateDir) remove(name ...string) error {
	err := os.Remove(d.path(name...))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// lastSeen reads the high-water mark; zero when there is none.
func (d stateDir) lastSeen() time.Time {
	b, _ := d.read(fileLastSeen)
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

func (d stateDir) saveLastSeen(t time.Time) error {
	return d.write([]byte(strconv.FormatInt(t.Unix(), 10)+"\n"), fileLastSeen)
}

// writeFileAtomic writes through a 0600 temporary file in the same folder,
// fsyncs it, renames it over path and fsyncs the folder, so the rename
// itself survives a power cut.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if df, err := os.Open(dir); err == nil {
		_ = df.Sync()
		_ = df.Close()
	}
	return nil
}
