// Test of the release configuration: goreleaser builds a snapshot of every
// platform's archive, the checksums file covers exactly them, each archive
// holds a binary for its own platform, and the Linux binary runs.
// scripts/test-deploy.sh runs goreleaser in the background while the other
// deploy tests run and sets NLS_RELEASE_BUILT=1; otherwise the test runs it.
package deploy

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"fmt"
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
	if os.Getenv("NLS_RELEASE_BUILT") == "" {
		start := time.Now()
		runTool(t, root, goreleaser, "release", "--snapshot", "--clean")
		t.Logf("goreleaser release --snapshot --clean took %s", time.Since(start).Round(time.Second))
	}

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
	archives := 0
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
			archives++
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
			if got := binaryPlatform(files[bin]); got != goos+"/"+goarch {
				t.Errorf("%s: its %s is a %s binary", filepath.Base(matches[0]), bin, got)
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
	if len(sums) != archives {
		t.Errorf("checksums.txt lists %d files, want the %d archives: %v", len(sums), archives, sums)
	}
}

// binaryPlatform says which os/arch an executable is built for, from its header.
func binaryPlatform(b []byte) string {
	r := bytes.NewReader(b)
	if f, err := elf.NewFile(r); err == nil {
		switch f.Machine {
		case elf.EM_X86_64:
			return "linux/amd64"
		case elf.EM_AARCH64:
			return "linux/arm64"
		}
		return "linux/" + f.Machine.String()
	}
	if f, err := macho.NewFile(r); err == nil {
		switch f.Cpu {
		case macho.CpuAmd64:
			return "darwin/amd64"
		case macho.CpuArm64:
			return "darwin/arm64"
		}
		return "darwin/" + f.Cpu.String()
	}
	if f, err := pe.NewFile(r); err == nil {
		switch f.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return "windows/amd64"
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return "windows/arm64"
		}
		return fmt.Sprintf("windows/%#x", f.Machine)
	}
	return "not an executable"
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
