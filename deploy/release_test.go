// Test of the release configuration: goreleaser builds a snapshot of every
// platform's archive, the checksums file covers them, and the Linux binary runs.
package deploy

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestReleaseSnapshotBuildsEveryPlatformWithChecksums(t *testing.T) {
	goreleaser := needTool(t, "goreleaser")
	runTool(t, root, goreleaser, "check")
	start := time.Now()
	runTool(t, root, goreleaser, "release", "--snapshot", "--clean")
	t.Logf("goreleaser release --snapshot --clean took %s", time.Since(start).Round(time.Second))

	dist := filepath.Join(root, "dist")
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q", sc.Text())
		}
		sums[name] = sum
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			ext := ".tar.gz"
			if goos == "windows" {
				ext = ".zip"
			}
			matches, _ := filepath.Glob(filepath.Join(dist, "nls_*_"+goos+"_"+goarch+ext))
			if len(matches) != 1 {
				t.Errorf("%s/%s: got archives %v, want one", goos, goarch, matches)
				continue
			}
			data, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(data)
			if got, want := sums[filepath.Base(matches[0])], hex.EncodeToString(h[:]); got != want {
				t.Errorf("%s: checksums.txt says %q, the file hashes to %s", filepath.Base(matches[0]), got, want)
			}
			bin := "portal"
			if goos == "windows" {
				bin = "portal.exe"
			}
			files := archiveFiles(t, matches[0])
			for _, want := range []string{bin, "README.md", ".env.example"} {
				if _, ok := files[want]; !ok {
					t.Errorf("%s lacks %s (has %v)", filepath.Base(matches[0]), want, keys(files))
				}
			}
			if goos == runtime.GOOS && goarch == runtime.GOARCH {
				exe := filepath.Join(t.TempDir(), bin)
				if err := os.WriteFile(exe, files[bin], 0o755); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(exe, "help").CombinedOutput()
				if err != nil || !strings.Contains(string(out), "NLS license server") {
					t.Errorf("the released %s/%s binary: %v\n%s", goos, goarch, err, out)
				}
			}
		}
	}
}

// archiveFiles reads a release archive's files (binaries included) by name.
func archiveFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name] = data
		}
		return files
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
