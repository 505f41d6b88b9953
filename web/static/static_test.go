package static_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nectarcloud/nls/web/static"
)

func MustNew(tb testing.TB) *static.Assets {
	tb.Helper()
	a, err := static.New()
	if err != nil {
		tb.Fatalf("static.New: %v", err)
	}
	return a
}

func TestEmbeddedFilesArePresent(t *testing.T) {
	a := MustNew(t)
	for _, name := range []string{"css/app.css", "js/htmx.min.js", "img/logo.svg"} {
		if _, _, ok := a.Lookup(name); !ok {
			t.Errorf("Lookup(%q): not found; embedded: %v", name, a.Names())
		}
	}
}

func TestPathIsFingerprinted(t *testing.T) {
	a := MustNew(t)
	re := regexp.MustCompile(`^/static/css/app\.[0-9a-f]{10}\.css$`)
	got := a.Path("css/app.css")
	if !re.MatchString(got) {
		t.Fatalf("Path(css/app.css) = %q, want /static/css/app.<10 hex>.css", got)
	}
	for _, alias := range []string{"/static/css/app.css", "/css/app.css"} {
		if p := a.Path(alias); p != got {
			t.Errorf("Path(%q) = %q, want %q", alias, p, got)
		}
	}
	if p := a.Path("js/htmx.min.js"); !regexp.MustCompile(`^/static/js/htmx\.min\.[0-9a-f]{10}\.js$`).MatchString(p) {
		t.Errorf("Path(js/htmx.min.js) = %q: hash must go before the last extension", p)
	}
	if p := a.Path("css/missing.css"); p != "/static/css/missing.css" {
		t.Errorf("Path of an unknown file = %q, want its plain URL", p)
	}
}

func TestHashIsFirstTenHexOfSHA256(t *testing.T) {
	content := []byte("body{color:red}")
	a, err := static.NewFS(fstest.MapFS{"css/app.css": {Data: content}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	want := "/static/css/app." + hex.EncodeToString(sum[:])[:10] + ".css"
	if got := a.Path("css/app.css"); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLookup(t *testing.T) {
	a := MustNew(t)
	hashed := a.Path("css/app.css")
	tests := []struct {
		name, path, wantType string
		wantOK, immutable    bool
	}{
		{"fingerprinted", hashed, "text/css; charset=utf-8", true, true},
		{"fingerprinted without prefix", strings.TrimPrefix(hashed, "/static/"), "text/css; charset=utf-8", true, true},
		{"fingerprinted with query", hashed + "?v=1", "text/css; charset=utf-8", true, true},
		{"plain", "/static/css/app.css", "text/css; charset=utf-8", true, false},
		{"script", a.Path("js/htmx.min.js"), "text/javascript; charset=utf-8", true, true},
		{"svg", a.Path("img/logo.svg"), "image/svg+xml", true, true},
		{"stale hash", "/static/css/app.0000000000.css", "", false, false},
		{"missing", "/static/css/nope.css", "", false, false},
		{"traversal", "/static/../static.go", "", false, false},
		{"directory", "/static/css", "", false, false},
		{"empty", "", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content, ctype, ok := a.Lookup(tc.path)
			if ok != tc.wantOK {
				t.Fatalf("Lookup(%q) ok = %v, want %v", tc.path, ok, tc.wantOK)
			}
			if ctype != tc.wantType {
				t.Errorf("content type = %q, want %q", ctype, tc.wantType)
			}
			if ok && len(content) == 0 {
				t.Errorf("empty content")
			}
			if got := a.Immutable(tc.path); got != tc.immutable {
				t.Errorf("Immutable(%q) = %v, want %v", tc.path, got, tc.immutable)
			}
		})
	}
}

func TestPlainAndFingerprintedServeSameBytes(t *testing.T) {
	a := MustNew(t)
	for _, name := range a.Names() {
		plain, _, ok1 := a.Lookup(name)
		hashed, _, ok2 := a.Lookup(a.Path(name))
		if !ok1 || !ok2 || !bytes.Equal(plain, hashed) {
			t.Errorf("%s: plain and fingerprinted copies differ (found %v, %v)", name, ok1, ok2)
		}
	}
}

func TestNewIsDeterministic(t *testing.T) {
	a, b := MustNew(t), MustNew(t)
	for _, name := range a.Names() {
		if a.Path(name) != b.Path(name) {
			t.Errorf("%s: %s then %s", name, a.Path(name), b.Path(name))
		}
	}
}

func TestNilAssetsFallBackToPlainPaths(t *testing.T) {
	var a *static.Assets
	if got := a.Path("css/app.css"); got != "/static/css/app.css" {
		t.Errorf("got %v, want /static/css/app.css", got)
	}
	if _, _, ok := a.Lookup("css/app.css"); ok {
		t.Errorf("nil Assets found a file")
	}
}
