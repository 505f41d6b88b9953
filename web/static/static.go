// Package static embeds the portal's built front-end files (Tailwind CSS,
// htmx, images) and names each by a fingerprint of its content, so pages can
// link to /static/css/app.<hash>.css and browsers may cache it for a year.
//
// The files under css/ and js/ are build output, committed: regenerate them
// with `npm run css` and `npm run htmx` at the repository root.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"
)

// Prefix is the URL path under which the assets are served.
const Prefix = "/static/"

// hashLen is how many hex digits of the SHA-256 go into a fingerprinted name:
// 40 bits is plenty to tell one build of a file from the next.
const hashLen = 10

//go:embed css js img
var embedded embed.FS

// Assets is the set of static files, each known by its plain name
// ("css/app.css") and its fingerprinted name ("css/app.3f2a9c1b0d.css").
// It is read-only after construction and safe for concurrent use.
type Assets struct {
	byName   map[string]*asset // plain name → asset
	byHashed map[string]*asset // fingerprinted name → asset
}

type asset struct {
	name        string // "css/app.css"
	hashed      string // "css/app.3f2a9c1b0d.css"
	content     []byte
	contentType string
}

// New builds the Assets from the files embedded in the binary.
func New() (*Assets, error) {
	return NewFS(embedded)
}

// NewFS builds the Assets from every regular file in fsys. It is New's
// engine, exported so tests and tools can fingerprint any file tree.
func NewFS(fsys fs.FS) (*Assets, error) {
	a := &Assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		content, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		f := &asset{
			name:        name,
			hashed:      fingerprint(name, hex.EncodeToString(sum[:])[:hashLen]),
			content:     content,
			contentType: contentType(name),
		}
		a.byName[f.name] = f
		a.byHashed[f.hashed] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: reading assets: %w", err)
	}
	for h := range a.byHashed {
		if _, clash := a.byName[h]; clash {
			return nil, fmt.Errorf("static: fingerprinted name %q is also a file's plain name", h)
		}
	}
	return a, nil
}

// fingerprint puts the hash before the last extension:
// "js/htmx.min.js" → "js/htmx.min.<hash>.js", "img/x" → "img/x.<hash>".
func fingerprint(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// Path returns the URL of the fingerprinted copy of the named file, e.g.
// Path("css/app.css") == "/static/css/app.3f2a9c1b0d.css". The name may
// carry the "/static/" prefix or a leading slash. An unknown name yields its
// plain URL, so a typo shows up as a 404 in the browser rather than a panic.
func (a *Assets) Path(name string) string {
	name = clean(name)
	if a != nil {
		if f, ok := a.byName[name]; ok {
			return Prefix + f.hashed
		}
	}
	return Prefix + name
}

// Lookup finds the file a request path names, fingerprinted
// ("/static/css/app.3f2a9c1b0d.css") or plain ("/static/css/app.css"); the
// "/static/" prefix is optional. Callers must not modify content.
func (a *Assets) Lookup(requestPath string) (content []byte, contentType string, ok bool) {
	f, _ := a.find(requestPath)
	if f == nil {
		return nil, "", false
	}
	return f.content, f.contentType, true
}

// Immutable reports whether requestPath names a file by its fingerprint, so
// its content can never change and it may be cached "immutable" for a year.
// A plain name may change with the next build and should be revalidated.
func (a *Assets) Immutable(requestPath string) bool {
	_, hashed := a.find(requestPath)
	return hashed
}

// Names lists the plain names of all files, sorted.
func (a *Assets) Names() []string {
	if a == nil {
		return nil
	}
	names := make([]string, 0, len(a.byName))
	for n := range a.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (a *Assets) find(requestPath string) (f *asset, hashed bool) {
	if a == nil {
		return nil, false
	}
	name := clean(requestPath)
	if f, ok := a.byHashed[name]; ok {
		return f, true
	}
	return a.byName[name], false
}

// clean strips the URL prefix and any query; names are matched exactly, so
// "..", doubled slashes and the like simply find nothing.
func clean(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimPrefix(p, Prefix)
	return strings.TrimPrefix(p, "/")
}

// contentType is fixed for the types we ship rather than read from the
// host's mime tables, so every machine answers the same header.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".webp":
		return "image/webp"
	case ".woff2":
		return "font/woff2"
	case ".json", ".map":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
