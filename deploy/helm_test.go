// Tests of the Helm chart in helm/nls: helm lint, helm template, every
// rendered manifest decoded strictly into the Kubernetes API types (unknown
// fields refused, as the API server's strict field validation would), and the
// properties a rollout depends on (probes, drain, migrations, shared keys).
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir        = "helm/nls"
	chartTestValues = "helm/nls/ci/test-values.yaml"
)

// monitorHead, monitorSelector and monitorEndpoint are the parts of the
// Prometheus Operator's ServiceMonitor and PodMonitor (monitoring.coreos.com/v1)
// the chart uses; their CRD types are not in k8s.io/api.
type monitorHead struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

type monitorSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

type monitorEndpoint struct {
	Port          string `json:"port"`
	Path          string `json:"path"`
	Interval      string `json:"interval"`
	Authorization *struct {
		Type        string                   `json:"type"`
		Credentials corev1.SecretKeySelector `json:"credentials"`
	} `json:"authorization"`
}

// serviceMonitor scrapes the portal through its Service.
type serviceMonitor struct {
	monitorHead
	Spec struct {
		JobLabel  string            `json:"jobLabel"`
		Selector  monitorSelector   `json:"selector"`
		Endpoints []monitorEndpoint `json:"endpoints"`
	} `json:"spec"`
}

// podMonitor scrapes the worker's pods, which have no Service.
type podMonitor struct {
	monitorHead
	Spec struct {
		JobLabel            string            `json:"jobLabel"`
		Selector            monitorSelector   `json:"selector"`
		PodMetricsEndpoints []monitorEndpoint `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// rendered is a chart rendering, decoded.
type rendered struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	secrets     []*corev1.Secret
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	monitors    []*serviceMonitor
	podMonitors []*podMonitor
}

// decodeStrict decodes one manifest into its Go type, refusing unknown fields.
func decodeStrict(doc []byte, into any) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func decodeManifests(t *testing.T, out []byte) rendered {
	t.Helper()
	var r rendered
	for _, doc := range bytes.Split(out, []byte("\n---")) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("manifest: %v\n%s", err, doc)
		}
		if head.Kind == "" {
			continue // a template that rendered nothing
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			r.deployments, obj = append(r.deployments, d), d
		case "batch/v1 Job":
			j := &batchv1.Job{}
			r.jobs, obj = append(r.jobs, j), j
		case "v1 Secret":
			s := &corev1.Secret{}
			r.secrets, obj = append(r.secrets, s), s
		case "v1 Service":
			s := &corev1.Service{}
			r.services, obj = append(r.services, s), s
		case "policy/v1 PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			r.pdbs, obj = append(r.pdbs, p), p
		case "autoscaling/v2 HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			r.hpas, obj = append(r.hpas, h), h
		case "monitoring.coreos.com/v1 ServiceMonitor":
			m := &serviceMonitor{}
			r.monitors, obj = append(r.monitors, m), m
		case "monitoring.coreos.com/v1 PodMonitor":
			m := &podMonitor{}
			r.podMonitors, obj = append(r.podMonitors, m), m
		default:
			t.Fatalf("the chart renders %s %s, which this test does not know", head.APIVersion, head.Kind)
		}
		if err := decodeStrict(doc, obj); err != nil {
			t.Fatalf("%s: %v\n%s", head.Kind, err, doc)
		}
	}
	return r
}

func helmTemplate(t *testing.T, args ...string) []byte {
	t.Helper()
	helm := needTool(t, "helm")
	return runTool(t, ".", helm, append([]string{"template", "nls", chartDir, "--namespace", "licensing"}, args...)...)
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 3\n"), &appsv1.Deployment{})
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("got %v, want an unknown field error naming replica", err)
	}
}

func TestChartLints(t *testing.T) {
	helm := needTool(t, "helm")
	out := runTool(t, ".", helm, "lint", "--strict", chartDir, "-f", chartTestValues)
	if !bytes.Contains(out, []byte("0 chart(s) failed")) {
		t.Fatalf("helm lint: %s", out)
	}
}

func TestChartRefusesReplicasThatWouldNotShareKeys(t *testing.T) {
	helm := needTool(t, "helm")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no secrets at all", nil, "secrets.sessionSecret"},
		{"no signing keys", []string{"--set", "secrets.sessionSecret=0123456789abcdef0123456789abcdef", "--set", "secrets.sealKey=0123456789abcdef0123456789abcdef"}, "signingKeys"},
		{"no registry keys", []string{"-f", chartTestValues, "--set", "registryKeys.files=null"}, "registryKeys"},
		{"grace shorter than the drain", []string{"-f", chartTestValues, "--set", "terminationGracePeriodSeconds=10"}, "terminationGracePeriodSeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tryTool(".", helm, append([]string{"template", "nls", chartDir}, tc.args...)...)
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("got %v: %s, want a refusal naming %s", err, out, tc.want)
			}
		})
	}
}

func TestChartRendersValidManifestsForARollout(t *testing.T) {
	r := decodeManifests(t, helmTemplate(t, "-f", chartTestValues))

	portal := findDeployment(t, r, "nls")
	spec := portal.Spec.Template.Spec
	c := container(t, spec.Containers, "portal")
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("portal args %v, want [serve]", c.Args)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", p)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", p)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" {
		t.Errorf("ports %+v, want http 8080 (the image's exposed port)", c.Ports)
	}
	env := envOf(c)
	if env["NLS_MIGRATE_ON_START"] != "false" {
		t.Errorf("NLS_MIGRATE_ON_START=%q, want false: only the hook Job migrates", env["NLS_MIGRATE_ON_START"])
	}
	if env["NLS_SEED"] != "false" {
		t.Errorf("NLS_SEED=%q, want false in production", env["NLS_SEED"])
	}
	drain, err := time.ParseDuration(env["NLS_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("NLS_SHUTDOWN_TIMEOUT: %v", err)
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if preStop == 0 {
		t.Errorf("no preStop sleep: the pod would drain while endpoints still route to it")
	}
	if grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second; grace <= preStop+drain {
		t.Errorf("terminationGracePeriodSeconds %s, want more than preStop %s + drain %s", grace, preStop, drain)
	}
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("pod security context %+v, want runAsNonRoot as 65532 (the image's user)", sc)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("the portal's root filesystem should be read-only")
	}
	checkSecretRefs(t, r, c)
	checkKeysVolume(t, r, spec)
	checkEnvKnown(t, c)

	// The migration hook runs portal migrate before install and upgrade, with a URL it can read then.
	if len(r.jobs) != 1 {
		t.Fatalf("got %d Jobs, want the migration hook", len(r.jobs))
	}
	job := r.jobs[0]
	hooks := strings.Split(job.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		t.Errorf("migration Job hooks %v, want pre-install and pre-upgrade", hooks)
	}
	mc := container(t, job.Spec.Template.Spec.Containers, "migrate")
	if len(mc.Args) == 0 || mc.Args[0] != "migrate" {
		t.Errorf("migration Job args %v, want migrate", mc.Args)
	}
	for _, e := range mc.Env {
		if e.Name == "DATABASE_URL" && e.ValueFrom != nil {
			s := findSecret(t, r, e.ValueFrom.SecretKeyRef.Name)
			sw, _ := strconv.Atoi(s.Annotations["helm.sh/hook-weight"])
			jw, _ := strconv.Atoi(job.Annotations["helm.sh/hook-weight"])
			if !strings.Contains(s.Annotations["helm.sh/hook"], "pre-install") || sw >= jw {
				t.Errorf("the Job's Secret %s must be a hook created before the Job, got %v", s.Name, s.Annotations)
			}
		}
	}

	// Service, PDB, HPA and ServiceMonitor all point at the portal's pods.
	podLabels := portal.Spec.Template.Labels
	if len(r.services) != 1 || !selects(r.services[0].Spec.Selector, podLabels) || r.services[0].Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("the Service does not select the portal's http port: %+v", r.services)
	}
	if len(r.pdbs) != 1 || !selects(r.pdbs[0].Spec.Selector.MatchLabels, podLabels) || r.pdbs[0].Spec.MaxUnavailable == nil {
		t.Errorf("PodDisruptionBudget %+v, want maxUnavailable over the portal's pods", r.pdbs)
	}
	if len(r.hpas) != 1 || r.hpas[0].Spec.ScaleTargetRef.Name != portal.Name || r.hpas[0].Spec.MinReplicas == nil || *r.hpas[0].Spec.MinReplicas < 2 {
		t.Errorf("HorizontalPodAutoscaler %+v, want it scaling the portal from 2 or more", r.hpas)
	}
	if portal.Spec.Replicas != nil {
		t.Errorf("replicas set while the HPA scales the Deployment: every upgrade would reset them")
	}
	if len(r.monitors) != 1 {
		t.Fatalf("got %d ServiceMonitors, want 1", len(r.monitors))
	}
	m := r.monitors[0]
	if !selects(m.Spec.Selector.MatchLabels, r.services[0].Labels) || len(m.Spec.Endpoints) != 1 ||
		m.Spec.Endpoints[0].Port != "http" || m.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %+v, want /metrics on the Service's http port", m.Spec)
	}
	if m.Spec.JobLabel == "" || r.services[0].Labels[m.Spec.JobLabel] != "nls" {
		t.Errorf("ServiceMonitor jobLabel %q gives job %q, want nls (the alert rules' job)", m.Spec.JobLabel, r.services[0].Labels[m.Spec.JobLabel])
	}
	if a := m.Spec.Endpoints[0].Authorization; a == nil || a.Credentials.Key != "NLS_METRICS_TOKEN" {
		t.Errorf("with a metrics token set, the ServiceMonitor must send it: %+v", a)
	}

	// The worker (enabled in the test values) runs portal worker with the same keys.
	worker := findDeployment(t, r, "nls-worker")
	wc := container(t, worker.Spec.Template.Spec.Containers, "worker")
	if !slices.Equal(wc.Args, []string{"worker"}) {
		t.Errorf("worker args %v, want [worker]", wc.Args)
	}
	checkSecretRefs(t, r, wc)
	checkKeysVolume(t, r, worker.Spec.Template.Spec)
	checkEnvKnown(t, wc)
	// It serves its delivery metrics and /healthz on its metrics port, and a
	// PodMonitor scrapes them as job nls, with the token.
	var addr string
	for _, e := range wc.Env {
		if e.Name == "NLS_WORKER_METRICS_ADDR" {
			addr = e.Value
		}
	}
	if len(wc.Ports) != 1 || wc.Ports[0].Name != "metrics" || addr != fmt.Sprintf(":%d", wc.Ports[0].ContainerPort) {
		t.Errorf("worker ports %+v with NLS_WORKER_METRICS_ADDR %q, want one metrics port it listens on", wc.Ports, addr)
	}
	if p := wc.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.StrVal != "metrics" {
		t.Errorf("worker liveness probe %+v, want /healthz on the metrics port", p)
	}
	if len(r.podMonitors) != 1 {
		t.Fatalf("got %d PodMonitors, want 1 for the worker", len(r.podMonitors))
	}
	pm := r.podMonitors[0]
	wl := worker.Spec.Template.Labels
	if !selects(pm.Spec.Selector.MatchLabels, wl) || selects(pm.Spec.Selector.MatchLabels, portal.Spec.Template.Labels) ||
		len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port != "metrics" ||
		pm.Spec.PodMetricsEndpoints[0].Path != "/metrics" || wl[pm.Spec.JobLabel] != "nls" {
		t.Errorf("PodMonitor %+v, want /metrics on the worker pods' metrics port as job nls", pm.Spec)
	}
	if a := pm.Spec.PodMetricsEndpoints[0].Authorization; a == nil || a.Credentials.Key != "NLS_METRICS_TOKEN" {
		t.Errorf("with a metrics token set, the PodMonitor must send it: %+v", a)
	}
}

// checkEnvKnown: every variable the chart sets is one the portal reads (listed
// in .env.example); a misspelt or unsupported one would be ignored silently.
func checkEnvKnown(t *testing.T, c corev1.Container) {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(root, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Env {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(e.Name) + `=`).Match(example) {
			t.Errorf("%s: the chart sets %s, which the portal does not read (.env.example does not list it)", c.Name, e.Name)
		}
	}
}

func TestChartOptionalParts(t *testing.T) {
	r := decodeManifests(t, helmTemplate(t, "-f", chartTestValues, "--set", "worker.enabled=false",
		"--set", "serviceMonitor.enabled=false", "--set", "autoscaling.enabled=false", "--set", "replicaCount=4",
		"--set", "signingKeys.existingSecret=prod-keys", "--set", "database.existingSecret=nls-db-app"))
	if len(r.deployments) != 1 || r.deployments[0].Name != "nls" {
		t.Fatalf("got %d Deployments, want the portal alone when the worker is off", len(r.deployments))
	}
	if len(r.monitors) != 0 || len(r.podMonitors) != 0 || len(r.hpas) != 0 {
		t.Errorf("got %d ServiceMonitors, %d PodMonitors and %d HPAs, want none when disabled", len(r.monitors),
			len(r.podMonitors), len(r.hpas))
	}
	if d := r.deployments[0]; d.Spec.Replicas == nil || *d.Spec.Replicas != 4 {
		t.Errorf("without the HPA the Deployment must set replicaCount")
	}
	spec := r.deployments[0].Spec.Template.Spec
	var keys *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == "keys-secret" {
			keys = &spec.Volumes[i]
		}
	}
	if keys == nil || keys.Secret.SecretName != "prod-keys" {
		t.Errorf("the keys volume %+v, want the existing Secret prod-keys", keys)
	}
	for _, s := range r.secrets {
		if strings.Contains(s.Name, "signing-keys") {
			t.Errorf("the chart created %s although signingKeys.existingSecret is set", s.Name)
		}
	}
	for _, e := range container(t, spec.Containers, "portal").Env {
		if e.Name == "DATABASE_URL" && (e.ValueFrom.SecretKeyRef.Name != "nls-db-app" || e.ValueFrom.SecretKeyRef.Key != "uri") {
			t.Errorf("DATABASE_URL from %+v, want the CloudNativePG app Secret's uri", e.ValueFrom.SecretKeyRef)
		}
	}
}

func findDeployment(t *testing.T, r rendered, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range r.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s rendered", name)
	return nil
}

func findSecret(t *testing.T, r rendered, name string) *corev1.Secret {
	t.Helper()
	for _, s := range r.secrets {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Secret %s rendered", name)
	return nil
}

func container(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkSecretRefs: every required secret reference names a rendered Secret and a key in it.
func checkSecretRefs(t *testing.T, r rendered, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		s := findSecret(t, r, ref.Name)
		if _, ok := s.StringData[ref.Key]; !ok && (ref.Optional == nil || !*ref.Optional) {
			t.Errorf("%s: env %s reads key %s, which Secret %s does not hold", c.Name, e.Name, ref.Key, s.Name)
		}
	}
}

// checkKeysVolume: the signing keys and the registry token keys each come
// from one Secret, copied for the portal's user by the init container and
// mounted where NLS_KEYS_DIR and NLS_REGISTRY_KEYS_DIR point, so every
// replica signs with the same keys.
func checkKeysVolume(t *testing.T, r rendered, spec corev1.PodSpec) {
	t.Helper()
	if len(spec.InitContainers) != 1 {
		t.Fatalf("got %d init containers, want the keys copy", len(spec.InitContainers))
	}
	init := spec.InitContainers[0]
	script := strings.Join(init.Command, " ")
	for _, k := range []struct{ env, secretVol, vol string }{
		{"NLS_KEYS_DIR", "keys-secret", "keys"},
		{"NLS_REGISTRY_KEYS_DIR", "registry-keys-secret", "registry-keys"},
	} {
		found := false
		for _, v := range spec.Volumes {
			if v.Name == k.secretVol && v.Secret != nil {
				found = true
				s := findSecret(t, r, v.Secret.SecretName)
				pems := 0
				for f := range s.StringData {
					if strings.HasSuffix(f, ".pem") {
						pems++
					}
				}
				if _, ok := s.StringData["current"]; !ok || pems == 0 {
					t.Errorf("keys Secret %s holds %d keys and no current file", s.Name, pems)
				}
			}
		}
		if !found {
			t.Errorf("no Secret volume %s for %s", k.secretVol, k.env)
		}
		var from, to string
		for _, m := range init.VolumeMounts {
			switch m.Name {
			case k.secretVol:
				from = m.MountPath
			case k.vol:
				to = m.MountPath
			}
		}
		if from == "" || to == "" || !strings.Contains(script, "cp "+from+"/* "+to+"/") || !strings.Contains(script, "chmod 0600 "+to+"/*") {
			t.Errorf("init container %q does not copy %s (%s) into %s (%s) with mode 0600", script, k.secretVol, from, k.vol, to)
		}
		for _, c := range spec.Containers {
			dir := envOf(c)[k.env]
			found := false
			for _, m := range c.VolumeMounts {
				if m.Name == k.vol && m.MountPath == dir && dir != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: %s %q is not the volume %s the keys are copied into", c.Name, k.env, dir, k.vol)
			}
		}
	}
	if spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil {
		t.Errorf("without fsGroup the non-root init container cannot read the Secret")
	}
}
