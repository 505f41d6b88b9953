package handlers_test

// Downloads from the S3 store: the license key's download answers a
// presigned URL of the S3-compatible server (gofakes3 on a real listener),
// which serves the uploaded file.

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/nectarcloud/nls/blobstore"
)

func TestDownloadByKeyFromS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("artifacts"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	srv := startDistWith(t, func(string) (blobstore.Store, *blobstore.FS) {
		s, err := blobstore.NewS3(blobstore.S3Config{Endpoint: s3srv.URL, Bucket: "artifacts", AccessKeyID: "k",
			SecretAccessKey: "s", PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		return s, nil
	}, "")
	d := distEnvOn(t, srv)
	d.product("acme")
	d.plan("acme", []string{"acme"}, []string{"stable"}, "restrict")
	past := time.Now().Add(-time.Hour)
	content := bytes.Repeat([]byte("s3 artifact "), 1_000_000) // 12 MB: a multipart upload
	_, art := d.release("acme", "1.0.0", "stable", &past, content)
	_, key := d.issue(map[string]any{"plan": "acme"})
	r := d.req("GET", "/api/artifacts/"+art+"/download", licenseAuth(key), nil, nil)
	if r.Status != 302 {
		t.Fatalf("got %d %s, want 302", r.Status, r.Body)
	}
	link := r.Header.Get("Location")
	if !strings.HasPrefix(link, s3srv.URL+"/artifacts/") || !strings.Contains(link, "X-Amz-Signature=") {
		t.Fatalf("redirect to %s, want a presigned URL of the bucket", link)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(content) {
		t.Fatalf("presigned GET: %d, %d bytes; want 200 and the %d uploaded", res.StatusCode, len(got), len(content))
	}
	// The portal serves no local links when artifacts live in S3.
	if r := d.req("GET", "/dl/x?sig=y", "", nil, nil); r.Status != 404 {
		t.Fatalf("/dl with the S3 store: got %d, want 404", r.Status)
	}
}
