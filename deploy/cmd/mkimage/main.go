// Command mkimage builds the portal's container image without a Docker
// engine: it assembles a distroless-style static base (non-root user 65532,
// CA certificates and time zones from the machine's Debian packages), serves
// it from an in-process registry on the loopback interface, and runs ko with
// that base to write a multi-arch OCI layout.
//
// ko v0.19.1 reads base images only from a registry or a Docker daemon, and
// gcr.io/distroless cannot be pulled from machines without internet access;
// a loopback registry that lives as long as this command is the least
// machinery that lets ko use a base built here.
//
// Usage (from the repository root; "make image" runs it):
//
//	cd deploy && go run ./cmd/mkimage -root .. -ko ../bin/ko -out ../build/oci
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user distroless calls "nonroot"; Kubernetes' runAsNonRoot needs a numeric id.
const (
	uid     = 65532
	appPort = "8080/tcp"
)

func main() {
	root := flag.String("root", "..", "the repository root, where .ko.yaml and ./cmd/portal are")
	koBin := flag.String("ko", "../bin/ko", "the ko binary")
	out := flag.String("out", "../build/oci", "the OCI layout to write (replaced)")
	repo := flag.String("repo", "ghcr.io/nectarcloud/nls", "the image name recorded in the layout")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	certs := flag.String("certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle (Debian: ca-certificates)")
	zoneinfo := flag.String("zoneinfo", "/usr/share/zoneinfo", "time zone database (Debian: tzdata)")
	flag.Parse()
	log.SetFlags(0)
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			log.Fatalf("mkimage: %v", err)
		}
		return a
	}
	if err := build(context.Background(), abs(*root), abs(*koBin), abs(*out), *repo, *platforms, *certs, *zoneinfo); err != nil {
		log.Fatalf("mkimage: %v", err)
	}
}

func build(ctx context.Context, root, koBin, out, repo, platforms, certs, zoneinfo string) error {
	epoch := sourceDateEpoch(root)
	base, err := baseIndex(platforms, certs, zoneinfo, epoch)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	baseRef, err := name.ParseReference(ln.Addr().String() + "/nls/base:latest")
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(baseRef, base, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing the base to the loopback registry: %w", err)
	}

	if err := os.RemoveAll(out); err != nil {
		return err
	}
	version, revision := gitVersion(root)
	args := []string{"build", "./cmd/portal", "--bare", "--push=false", "--sbom=none",
		"--oci-layout-path=" + out, "--platform=" + platforms}
	for _, l := range labels(version, revision, epoch) {
		args = append(args, "--image-label="+l)
	}
	cmd := exec.CommandContext(ctx, koBin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(),
		"KO_DEFAULTBASEIMAGE="+baseRef.String(),
		"KO_DOCKER_REPO="+repo,
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch.Unix()),
	)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", koBin, strings.Join(args, " "), err)
	}
	log.Printf("mkimage: wrote %s (%s, %s)", out, repo, platforms)
	return nil
}

// labels are the OCI annotations the Dockerfile sets too (deploy tests compare them).
func labels(version, revision string, created time.Time) []string {
	return []string{
		"org.opencontainers.image.title=nls",
		"org.opencontainers.image.description=NLS license server",
		"org.opencontainers.image.source=https://github.com/nectarcloud/nls",
		"org.opencontainers.image.vendor=Nectar Cloud",
		"org.opencontainers.image.version=" + version,
		"org.opencontainers.image.revision=" + revision,
		"org.opencontainers.image.created=" + created.UTC().Format(time.RFC3339),
	}
}

// baseIndex is the static base for each platform: one layer (the files are
// the same on every architecture) and a config naming the user and port.
func baseIndex(platforms, certs, zoneinfo string, epoch time.Time) (v1.ImageIndex, error) {
	layerTar, err := baseLayer(certs, zoneinfo, epoch)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range strings.Split(platforms, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || osName != "linux" {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", p)
		}
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
			Created: v1.Time{Time: epoch}, CreatedBy: "mkimage: passwd, CA certificates, time zones",
		}})
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = osName, arch
		cf.Created = v1.Time{Time: epoch}
		cf.Config.User = fmt.Sprintf("%d:%d", uid, uid)
		cf.Config.WorkingDir = "/home/nonroot"
		cf.Config.ExposedPorts = map[string]struct{}{appPort: {}}
		cf.Config.Env = []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: osName, Architecture: arch},
		}})
	}
	return idx, nil
}

// baseLayer is what distroless/static holds that a Go server uses: users
// (root and nonroot, no login shell since there is no shell), a writable
// /tmp, the nonroot home, CA certificates and the time zone database.
func baseLayer(certs, zoneinfo string, epoch time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner, ModTime: epoch})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/share", "home"} {
		if err := dir(d, 0o755, 0); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777, 0); err != nil {
		return nil, err
	}
	if err := dir("home/nonroot", 0o700, uid); err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, uid)
	group := fmt.Sprintf("root:x:0:\nnobody:x:65534:\nnonroot:x:%d:\n", uid)
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(certs)
	if err != nil {
		return nil, fmt.Errorf("CA certificates (apt-get install ca-certificates): %w", err)
	}
	if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, pem); err != nil {
		return nil, err
	}
	if err := addTree(tw, zoneinfo, "usr/share/zoneinfo", epoch); err != nil {
		return nil, fmt.Errorf("time zones (apt-get install tzdata): %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addTree copies a folder into the layer, keeping its symbolic links (Debian's
// zoneinfo links aliases to their zones).
func addTree(tw *tar.Writer, src, dst string, epoch time.Time) error {
	if _, err := os.Stat(filepath.Join(src, "UTC")); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join(dst, rel))
		h := &tar.Header{Name: name, ModTime: epoch, Mode: 0o644}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, target, 0o777
			return tw.WriteHeader(h)
		case d.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o755
			return tw.WriteHeader(h)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
}

// sourceDateEpoch is the commit time (or SOURCE_DATE_EPOCH), so rebuilding a
// commit gives the same base and timestamps.
func sourceDateEpoch(root string) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil {
			return time.Unix(sec, 0).UTC()
		}
	}
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output()
	if err == nil {
		var sec int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &sec); err == nil {
			return time.Unix(sec, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

func gitVersion(root string) (version, revision string) {
	version, revision = "dev", "unknown"
	if out, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		revision = strings.TrimSpace(string(out))
	}
	return version, revision
}
