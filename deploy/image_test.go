// Tests of the container image "make image" builds: its configuration, its
// files, both architectures, and the portal run from its extracted filesystem
// against a fresh PostgreSQL database.
package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/jackc/pgx/v5"
)

const (
	imageLayoutDir = root + "/build/oci"
	entrypoint     = "/ko-app/portal"
	imageUser      = "65532:65532"
	imagePort      = "8080/tcp"
	// The compressed image (one architecture) stays small: a static binary
	// and a few megabytes of certificates and time zones.
	maxImageBytes = 20 << 20
)

var wantPlatforms = []string{"linux/amd64", "linux/arm64"}

var imageOnce struct {
	sync.Once
	images map[string]v1.Image
	err    error
}

// builtImages opens build/oci, building it with "make image" when it is absent,
// and returns the image of each platform.
func builtImages(t *testing.T) map[string]v1.Image {
	t.Helper()
	imageOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(imageLayoutDir, "index.json")); err != nil {
			if out, err := exec.Command("make", "-C", root, "image").CombinedOutput(); err != nil {
				imageOnce.err = fmt.Errorf("make image: %v\n%s", err, out)
				return
			}
		}
		imageOnce.images, imageOnce.err = platformImages(imageLayoutDir)
	})
	if imageOnce.err != nil {
		missing(t, imageOnce.err.Error())
	}
	return imageOnce.images
}

func platformImages(dir string) (map[string]v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		return nil, fmt.Errorf("%s: want one multi-arch index, got %d manifests", dir, len(m.Manifests))
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := map[string]v1.Image{}
	for _, d := range im.Manifests {
		if d.Platform == nil {
			return nil, fmt.Errorf("manifest %s has no platform", d.Digest)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		out[d.Platform.OS+"/"+d.Platform.Architecture] = img
	}
	return out, nil
}

func TestImageHasBothPlatformsRunningTheStaticPortalAsNonRoot(t *testing.T) {
	images := builtImages(t)
	var got []string
	for p := range images {
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, wantPlatforms) {
		t.Fatalf("got platforms %v, want %v", got, wantPlatforms)
	}
	revision := strings.TrimSpace(string(runTool(t, root, "git", "rev-parse", "HEAD")))
	for _, platform := range wantPlatforms {
		t.Run(platform, func(t *testing.T) {
			img := images[platform]
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS+"/"+cf.Architecture != platform {
				t.Errorf("config says %s/%s, want %s", cf.OS, cf.Architecture, platform)
			}
			c := cf.Config
			if c.User != imageUser {
				t.Errorf("got user %q, want %q (non-root)", c.User, imageUser)
			}
			if !slices.Equal(c.Entrypoint, []string{entrypoint}) || len(c.Cmd) != 0 {
				t.Errorf("got entrypoint %q cmd %q, want %q alone (serve is the default command)", c.Entrypoint, c.Cmd, entrypoint)
			}
			if _, ok := c.ExposedPorts[imagePort]; !ok || len(c.ExposedPorts) != 1 {
				t.Errorf("got exposed ports %v, want %s", c.ExposedPorts, imagePort)
			}
			for _, k := range []string{"title", "description", "source", "vendor", "version", "revision", "created"} {
				if c.Labels["org.opencontainers.image."+k] == "" {
					t.Errorf("label org.opencontainers.image.%s is missing", k)
				}
			}
			if got := c.Labels["org.opencontainers.image.revision"]; got != revision {
				t.Errorf("got revision label %q, want HEAD %s (rebuild with make image)", got, revision)
			}

			size := compressedSize(t, img)
			t.Logf("%s: %.1f MiB compressed", platform, float64(size)/(1<<20))
			if size > maxImageBytes {
				t.Errorf("image is %d bytes compressed, want at most %d", size, maxImageBytes)
			}

			files := imageFiles(t, img)
			for _, f := range []string{"ko-app/portal", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/UTC", "usr/share/zoneinfo/Europe/Paris"} {
				if _, ok := files[f]; !ok {
					t.Errorf("image lacks /%s", f)
				}
			}
			for name := range files {
				switch filepath.Base(name) {
				case "sh", "bash", "dash", "ash", "busybox":
					t.Errorf("image has a shell: /%s", name)
				}
			}
			if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
				t.Errorf("/etc/passwd has no nonroot user 65532:\n%s", files["etc/passwd"].data)
			}
			bin := files["ko-app/portal"]
			if bin.mode&0o111 == 0 {
				t.Errorf("/ko-app/portal has mode %o, want executable", bin.mode)
			}
			checkStaticBinary(t, bin.data, strings.TrimPrefix(platform, "linux/"))
		})
	}
}

func compressedSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		n += s
	}
	return n
}

type imageFile struct {
	mode int64
	data []byte // regular files only
	link string
}

// imageFiles flattens the image's layers; large files other than the portal keep no data.
func imageFiles(t *testing.T, img v1.Image) map[string]imageFile {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]imageFile{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")
		f := imageFile{mode: h.Mode, link: h.Linkname}
		if h.Typeflag == tar.TypeReg && (h.Size < 1<<20 || name == "ko-app/portal") {
			if f.data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		files[name] = f
	}
	return files
}

// checkStaticBinary asserts the ELF targets arch and needs no dynamic loader,
// since the base holds no libc.
func checkStaticBinary(t *testing.T, data []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("/ko-app/portal is not an ELF binary: %v", err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != want {
		t.Errorf("/ko-app/portal is built for %v, want %v", f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("/ko-app/portal is dynamically linked; the image has no libc")
		}
	}
}

// TestImagePortalServesFromItsFilesystem extracts the image for this machine's
// architecture and runs its entrypoint, as a container runtime would, against
// a fresh database: it must become live and ready, then drain on SIGTERM.
func TestImagePortalServesFromItsFilesystem(t *testing.T) {
	images := builtImages(t)
	img, ok := images["linux/"+runtime.GOARCH]
	if !ok || runtime.GOOS != "linux" {
		t.Skipf("the image has no %s/%s variant to run here", runtime.GOOS, runtime.GOARCH)
	}
	dbURL := freshDatabase(t)
	rootfs := t.TempDir()
	extract(t, img, rootfs)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(rootfs, cf.Config.Entrypoint[0]), cf.Config.Cmd...)
	cmd.Dir = rootfs
	cmd.Env = append(slices.Clone(cf.Config.Env),
		"DATABASE_URL="+dbURL,
		"LISTEN_ADDR="+addr,
		"NLS_DATA_DIR="+filepath.Join(rootfs, "home/nonroot/data"),
		"NLS_SEED=false",
		"NLS_LOG_FORMAT=json",
		"NLS_SHUTDOWN_TIMEOUT=5s",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	base := "http://" + addr
	for _, path := range []string{"/healthz", "/readyz"} {
		if err := waitFor200(base+path, 60*time.Second, exited); err != nil {
			t.Fatalf("GET %s: %v\nportal output:\n%s", path, err, logs.String())
		}
	}
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"kid"`) {
		t.Fatalf("GET /.well-known/jwks.json: %d %s, want the signing key the first start generated", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("portal exited with %v after SIGTERM, want 0\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("portal still running 20s after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "shutting down: /readyz answers 503") {
		t.Errorf("portal did not log its drain on SIGTERM:\n%s", logs.String())
	}
}

func waitFor200(url string, timeout time.Duration, exited <-chan error) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("portal exited: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no 200 within %s (last: %s)", timeout, last)
}

// extract writes the image's flattened filesystem under dir.
func extract(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				err = os.Symlink(h.Linkname, path)
			}
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				break
			}
			var f *os.File
			if f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode&0o777)); err != nil {
				break
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// freshDatabase creates an empty database on the TEST_DATABASE_URL server,
// dropped when the test ends.
func freshDatabase(t *testing.T) string {
	t.Helper()
	server := os.Getenv("TEST_DATABASE_URL")
	if server == "" {
		missing(t, "TEST_DATABASE_URL is not set (scripts/test.sh starts a PostgreSQL and sets it)")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		missing(t, "PostgreSQL is required: "+err.Error())
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("nls_image_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := neturl.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
