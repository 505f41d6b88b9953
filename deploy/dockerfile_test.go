// Tests that the Dockerfile builds what "make image" builds (same user,
// entrypoint, port, working directory, labels and build flags), and that
// compose.yaml wires the portal to its services with real settings.
package deploy

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// dockerfile is the final stage of the Dockerfile and the build stage's commands.
type dockerfile struct {
	base, user, workdir string
	entrypoint          []string
	expose              []string
	labels              map[string]string
	buildLines          []string
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var lines []string
	var cur string
	for _, l := range strings.Split(string(src), "\n") {
		trimmed := strings.TrimSpace(l)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		lines = append(lines, cur+trimmed)
		cur = ""
	}
	var d dockerfile
	stage := 0
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			stage++
			d = dockerfile{buildLines: d.buildLines, labels: map[string]string{}}
			fields := strings.Fields(rest)
			for _, f := range fields {
				if !strings.HasPrefix(f, "--") {
					d.base = f
					break
				}
			}
		case "USER":
			d.user = rest
		case "WORKDIR":
			d.workdir = rest
		case "EXPOSE":
			d.expose = strings.Fields(rest)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &d.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: want the exec (JSON) form: %v", rest, err)
			}
		case "LABEL":
			for _, m := range regexp.MustCompile(`([\w.-]+)="([^"]*)"`).FindAllStringSubmatch(rest, -1) {
				d.labels[m[1]] = m[2]
			}
		case "ENV", "RUN":
			d.buildLines = append(d.buildLines, l)
		}
	}
	if stage < 2 {
		t.Fatalf("the Dockerfile has %d stage(s), want a build stage and a runtime stage", stage)
	}
	return d
}

func TestDockerfileMatchesTheKoImage(t *testing.T) {
	d := parseDockerfile(t)
	if !strings.HasPrefix(d.base, "gcr.io/distroless/static") || !strings.HasSuffix(d.base, ":nonroot") {
		t.Errorf("runtime stage FROM %s, want distroless static, nonroot", d.base)
	}
	build := strings.Join(d.buildLines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, "./cmd/portal"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage lacks %s", want)
		}
	}
	ko := readYAML(t, filepath.Join(root, ".ko.yaml"))
	koBuild := ko["builds"].([]any)[0].(map[string]any)
	if !slices.Contains(asStrings(koBuild["env"]), "CGO_ENABLED=0") || !slices.Contains(asStrings(koBuild["flags"]), "-trimpath") ||
		!slices.Contains(asStrings(koBuild["ldflags"]), "-s -w") {
		t.Errorf(".ko.yaml builds differently from the Dockerfile: %v", koBuild)
	}
	if got := asStrings(ko["defaultPlatforms"]); !slices.Equal(got, wantPlatforms) {
		t.Errorf(".ko.yaml platforms %v, want %v", got, wantPlatforms)
	}

	images := builtImages(t)
	cf, err := images["linux/amd64"].ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if d.user != c.User {
		t.Errorf("Dockerfile USER %q, image user %q", d.user, c.User)
	}
	if d.workdir != c.WorkingDir {
		t.Errorf("Dockerfile WORKDIR %q, image %q", d.workdir, c.WorkingDir)
	}
	if !slices.Equal(d.entrypoint, c.Entrypoint) {
		t.Errorf("Dockerfile ENTRYPOINT %q, image %q", d.entrypoint, c.Entrypoint)
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, strings.TrimSuffix(p, "/tcp"))
	}
	if !slices.Equal(d.expose, ports) {
		t.Errorf("Dockerfile EXPOSE %v, image %v", d.expose, ports)
	}
	for k, v := range c.Labels {
		dv, ok := d.labels[k]
		switch {
		case !ok:
			t.Errorf("the Dockerfile lacks label %s", k)
		case !strings.Contains(dv, "${") && dv != v:
			t.Errorf("label %s: Dockerfile %q, image %q", k, dv, v)
		}
	}
	for k := range d.labels {
		if _, ok := c.Labels[k]; !ok {
			t.Errorf("the image lacks the Dockerfile's label %s", k)
		}
	}
}

func TestComposeWiresThePortalToItsServices(t *testing.T) {
	compose := readYAML(t, filepath.Join(root, "compose.yaml"))
	services, _ := compose["services"].(map[string]any)
	for _, s := range []string{"portal", "postgres", "redis", "mailpit"} {
		if _, ok := services[s]; !ok {
			t.Fatalf("compose.yaml has no %s service", s)
		}
	}
	portal := services["portal"].(map[string]any)
	env := map[string]string{}
	for k, v := range portal["environment"].(map[string]any) {
		env[k] = v.(string)
	}
	hostOf := func(name string) string {
		u, err := url.Parse(env[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return u.Hostname()
	}
	if hostOf("DATABASE_URL") != "postgres" || hostOf("REDIS_URL") != "redis" || hostOf("NLS_SMTP_URL") != "mailpit" {
		t.Errorf("portal environment %v, want DATABASE_URL, REDIS_URL and NLS_SMTP_URL on the postgres, redis and mailpit services", env)
	}
	pg := services["postgres"].(map[string]any)["environment"].(map[string]any)
	db, _ := url.Parse(env["DATABASE_URL"])
	pass, _ := db.User.Password()
	if db.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] || strings.TrimPrefix(db.Path, "/") != pg["POSTGRES_DB"] {
		t.Errorf("DATABASE_URL %s does not match the postgres service's user, password and database %v", env["DATABASE_URL"], pg)
	}
	// Every variable given to the portal is one it reads (a typo would be silently ignored).
	example, err := os.ReadFile(filepath.Join(root, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range env {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + `=`).Match(example) {
			t.Errorf("compose.yaml sets %s, which .env.example does not list", k)
		}
	}
	if !slices.Contains(asStrings(portal["ports"]), "8080:8080") {
		t.Errorf("portal ports %v, want 8080:8080", portal["ports"])
	}
	deps, _ := portal["depends_on"].(map[string]any)
	if pgDep, _ := deps["postgres"].(map[string]any); pgDep["condition"] != "service_healthy" {
		t.Errorf("the portal must wait for a healthy postgres, got %v", deps["postgres"])
	}
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(src, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
