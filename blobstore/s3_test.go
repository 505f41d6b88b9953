// Tests of the S3 store against an S3 server on a real listener
// (gofakes3, in process). SeaweedFS, the real server the module proxy
// serves, does not build with go install (replace directives); built from its
// module directory it is 1,739 packages, 11.7 CPU-minutes (about 6 minutes
// of a fresh 2-core machine, before any test runs), a 1.8 GB build cache and
// a 222 MiB binary, too much for a suite that must finish in 20 minutes.
// gofakes3 does not check request signatures. Small and multipart writes,
// presigned downloads, deletion.

package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// newTestS3 starts an in-process S3 server with bucket and answers a store on it.
func newTestS3(t *testing.T) *S3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("artifacts"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s, err := NewS3(S3Config{Endpoint: srv.URL, Bucket: "artifacts", Prefix: "nls/", AccessKeyID: "test",
		SecretAccessKey: "test-secret", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	s.partSize = 5 << 20 // S3's smallest part, so the test goes multipart with little data
	return s
}

func TestS3PutPresignDelete(t *testing.T) {
	s := newTestS3(t)
	ctx := context.Background()
	for _, size := range []int{1000, 12<<20 + 123} { // one PutObject; three parts
		data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		key := "blob-" + itoa(size)
		w, err := s.Put(ctx, key, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("put %d bytes: %v", size, err)
		}
		if w.Size != int64(size) || w.SHA256 != sha256.Sum256(data) {
			t.Fatalf("put %d bytes: got size %d and another hash", size, w.Size)
		}
		link, err := s.DownloadURL(ctx, key, "app.tar.gz", "application/gzip", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(link, "X-Amz-Signature=") || !strings.Contains(link, "X-Amz-Expires=60") {
			t.Fatalf("link %s is not a presigned URL valid for 60s", link)
		}
		res, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(got, data) {
			t.Fatalf("presigned GET: %d and %d bytes, want 200 and %d", res.StatusCode, len(got), size)
		}
		if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename=app.tar.gz` {
			t.Errorf("Content-Disposition %q, want the file name", cd)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if res, err := http.Get(link); err != nil || res.StatusCode != 404 {
			t.Fatalf("after delete: %v %v, want 404", res.StatusCode, err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
