// Helpers shared by the deployment tests: the repository root, the pinned
// tools in bin/, and failing (never skipping) under CI when one is missing.
package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// root is the repository root; the tests run in deploy/.
const root = ".."

// needTool returns the path of a tool installed into bin/ (scripts/test-deploy.sh
// installs the pinned versions) or found on PATH. Missing, it fails the test
// under CI and skips it elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := filepath.Abs(filepath.Join(root, "bin", name)); err == nil {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, name+" is not installed (make deploy-tools installs it into bin/)")
	return ""
}

func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// runTool runs a command in dir and returns its stdout; a failure fails the test with its output.
func runTool(t *testing.T, dir, bin string, args ...string) []byte {
	t.Helper()
	out, err := tryTool(dir, bin, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return out
}

func tryTool(dir, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), err
	}
	return stdout.Bytes(), nil
}
