package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// manifests are the decoded objects of deploy/k8s, by kind.
type manifests struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	claims      []*corev1.PersistentVolumeClaim
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

// typeMeta is the part of a document that says what it is.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// splitDocuments splits a YAML stream at its "---" lines, dropping empty
// documents (comments only).
func splitDocuments(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(d, "")) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// decodeStrict decodes doc into out, failing on any field the type lacks.
func decodeStrict(doc []byte, out any) error {
	return yaml.UnmarshalStrict(doc, out)
}

// loadManifests decodes every document of dir/*.yaml into its API type;
// an unknown apiVersion/kind or field fails.
func loadManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	m := &manifests{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(b) {
			var tm typeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				m.deployments, obj = append(m.deployments, d), d
			case "v1 Service":
				s := &corev1.Service{}
				m.services, obj = append(m.services, s), s
			case "v1 ConfigMap":
				c := &corev1.ConfigMap{}
				m.configMaps, obj = append(m.configMaps, c), c
			case "v1 PersistentVolumeClaim":
				c := &corev1.PersistentVolumeClaim{}
				m.claims, obj = append(m.claims, c), c
			case "autoscaling/v2 HorizontalPodAutoscaler":
				h := &autoscalingv2.HorizontalPodAutoscaler{}
				m.hpas, obj = append(m.hpas, h), h
			default:
				t.Fatalf("%s document %d: unexpected apiVersion %q kind %q", f, i, tm.APIVersion, tm.Kind)
			}
			if err := decodeStrict(doc, obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	return m
}

// serveFlags is `kiln serve`'s flag set: every option (configs) plus
// --config and --help, as newServeCommand declares them.
func serveFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	configs.RegisterFlags(fs)
	fs.String("config", "", "")
	fs.BoolP("help", "h", false, "")
	return fs
}

// checkArgs reports the flags in args `kiln serve` does not know and
// returns the value each known flag was given.
func checkArgs(args []string) (map[string]string, error) {
	fs := serveFlags()
	vals := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("argument %q: use the long flag names in manifests", a)
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		f := fs.Lookup(name)
		if f == nil {
			return nil, fmt.Errorf("flag --%s is not an option of kiln serve", name)
		}
		if !hasVal && f.Value.Type() != "bool" && i+1 < len(args) {
			i++
			val = args[i]
		}
		if err := f.Value.Set(val); err != nil && f.Value.Type() != "bool" {
			return nil, fmt.Errorf("flag --%s %q: %w", name, val, err)
		}
		vals[name] = val
	}
	return vals, nil
}

func TestManifests(t *testing.T) {
	m := loadManifests(t, "k8s")
	if len(m.deployments) != 1 || len(m.configMaps) != 1 || len(m.services) != 1 || len(m.hpas) != 1 || len(m.claims) != 1 {
		t.Fatalf("want one Deployment, ConfigMap, Service, HPA and PVC; got %d, %d, %d, %d, %d",
			len(m.deployments), len(m.configMaps), len(m.services), len(m.hpas), len(m.claims))
	}
	d, cm := m.deployments[0], m.configMaps[0]
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	cfgFile := ""
	t.Run("args are kiln serve flags", func(t *testing.T) {
		if len(c.Command) > 0 {
			t.Errorf("command %q overrides the image's ENTRYPOINT (kiln serve); give args only", c.Command)
		}
		vals, err := checkArgs(c.Args)
		if err != nil {
			t.Fatal(err)
		}
		cfgFile = vals["config"]
		if cfgFile == "" {
			t.Fatalf("args %q do not pass --config", c.Args)
		}
		known := map[string]bool{}
		for _, k := range configs.Keys() {
			known[configs.EnvName(k)] = true
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, configs.EnvPrefix+"_") && !known[e.Name] && e.Name != configs.ConfigFileEnv {
				t.Errorf("env %s is not an option of kiln serve", e.Name)
			}
		}
	})

	var cfg *configs.Config
	t.Run("ConfigMap kiln.yaml", func(t *testing.T) {
		src, ok := cm.Data[filepath.Base(cfgFile)]
		if !ok {
			t.Fatalf("ConfigMap %s has no %s (the --config file)", cm.Name, filepath.Base(cfgFile))
		}
		var keys map[string]any
		if err := yaml.Unmarshal([]byte(src), &keys); err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			if !slices.Contains(configs.Keys(), k) {
				t.Errorf("kiln.yaml key %q is not an option (see configs/kiln.yaml)", k)
			}
		}
		model, _ := keys["model"].(string)
		if !strings.HasPrefix(model, "/models/") {
			t.Errorf("model %q is not on the /models volume", model)
		}
		// Load it as kiln would, the model swapped for a real file.
		real, err := filepath.Abs("../../shared/models/stories260K.gguf")
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "kiln.yaml")
		if err := os.WriteFile(file, []byte(strings.Replace(src, model, real, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if cfg, err = configs.Load(file, nil); err != nil {
			t.Fatalf("kiln.yaml does not load: %v", err)
		}
	})
	if cfg == nil {
		t.FailNow()
	}

	t.Run("volumes", func(t *testing.T) {
		mounts := map[string]corev1.VolumeMount{}
		for _, vm := range c.VolumeMounts {
			mounts[vm.Name] = vm
		}
		vols := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			vols[v.Name] = v
			if _, ok := mounts[v.Name]; !ok {
				t.Errorf("volume %s is not mounted", v.Name)
			}
		}
		for name := range mounts {
			if _, ok := vols[name]; !ok {
				t.Errorf("mount %s has no volume", name)
			}
		}
		var models, config bool
		for name, vm := range mounts {
			v := vols[name]
			switch {
			case vm.MountPath == "/models":
				models = true
				if !vm.ReadOnly || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.claims[0].Name {
					t.Errorf("/models: want the claim %s mounted read-only, got %+v from %+v", m.claims[0].Name, vm, v.VolumeSource)
				}
			case vm.MountPath == filepath.Dir(cfgFile):
				config = true
				if v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
					t.Errorf("%s: want the ConfigMap %s, got %+v", vm.MountPath, cm.Name, v.VolumeSource)
				}
			}
		}
		if !models || !config {
			t.Errorf("want /models and %s mounted (models %v, config %v)", filepath.Dir(cfgFile), models, config)
		}
	})

	t.Run("probes, port and shutdown", func(t *testing.T) {
		if len(c.Ports) != 1 || int(c.Ports[0].ContainerPort) != cfg.Port {
			t.Fatalf("container ports %+v; want kiln's port %d", c.Ports, cfg.Port)
		}
		for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" {
				t.Errorf("%s probe: want HTTP GET /health, got %+v", name, p)
				continue
			}
			if port := p.HTTPGet.Port; port.String() != c.Ports[0].Name && port.IntValue() != cfg.Port {
				t.Errorf("%s probe port %s is not the container's", name, port.String())
			}
		}
		// Liveness must tolerate a whole drain of 503s.
		if lp := c.LivenessProbe; lp != nil && time.Duration(lp.PeriodSeconds*lp.FailureThreshold)*time.Second <= cfg.ShutdownGracePeriod {
			t.Errorf("liveness fails after %ds of 503, within shutdown_grace_period %s", lp.PeriodSeconds*lp.FailureThreshold, cfg.ShutdownGracePeriod)
		}
		preStop := time.Duration(0)
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
			cmd := c.Lifecycle.PreStop.Exec.Command
			if len(cmd) != 2 || cmd[0] != "sleep" {
				t.Fatalf("preStop %q: want [sleep N]", cmd)
			}
			s, err := time.ParseDuration(cmd[1] + "s")
			if err != nil {
				t.Fatal(err)
			}
			preStop = s
		}
		if pod.TerminationGracePeriodSeconds == nil {
			t.Fatal("no terminationGracePeriodSeconds")
		}
		need := preStop + cfg.ShutdownGracePeriod + 5*time.Second
		if got := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; got < need {
			t.Errorf("terminationGracePeriodSeconds %s < preStop %s + shutdown_grace_period %s + 5s margin", got, preStop, cfg.ShutdownGracePeriod)
		}
	})

	t.Run("non-root and resources", func(t *testing.T) {
		if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Error("pod does not require runAsNonRoot")
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("want cpu and memory requests and a memory limit, got %+v", c.Resources)
		}
		if cpus := c.Resources.Limits.Cpu(); cfg.TensorParallelSize > 0 && !cpus.IsZero() && int64(cfg.TensorParallelSize*cfg.DataParallelSize) > cpus.Value() {
			t.Errorf("tensor_parallel_size %d x data_parallel_size %d threads exceed the CPU limit %s", cfg.TensorParallelSize, cfg.DataParallelSize, cpus)
		}
	})

	t.Run("service and autoscaler target the deployment", func(t *testing.T) {
		labels := d.Spec.Template.Labels
		for k, v := range d.Spec.Selector.MatchLabels {
			if labels[k] != v {
				t.Errorf("deployment selector %s=%s does not match its pods", k, v)
			}
		}
		svc := m.services[0]
		for k, v := range svc.Spec.Selector {
			if labels[k] != v {
				t.Errorf("service selector %s=%s does not match the pods", k, v)
			}
		}
		if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name {
			t.Errorf("service ports %+v do not target %s", svc.Spec.Ports, c.Ports[0].Name)
		}
		h := m.hpas[0]
		if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA targets %+v, not Deployment %s", ref, d.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HPA replicas min %v max %d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) == 0 {
			t.Fatal("HPA has no metrics")
		}
		scraped := scrapeMetricNames(t)
		for _, ms := range h.Spec.Metrics {
			if ms.Type != autoscalingv2.PodsMetricSourceType || ms.Pods == nil {
				t.Errorf("HPA metric %+v: want a Pods metric from the custom metrics API", ms)
				continue
			}
			if !scraped[ms.Pods.Metric.Name] {
				t.Errorf("HPA metric %s is not one kiln exports on /metrics", ms.Pods.Metric.Name)
			}
		}
	})

	t.Run("pod annotations name the metrics port", func(t *testing.T) {
		a := d.Spec.Template.Annotations
		if a["prometheus.io/scrape"] == "true" && a["prometheus.io/port"] != fmt.Sprint(cfg.Port) {
			t.Errorf("prometheus.io/port %q, kiln listens on %d", a["prometheus.io/port"], cfg.Port)
		}
	})
}

func TestSplitDocuments(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"a: 1\n", 1},
		{"# only a comment\n---\na: 1\n---\nb: 2\n", 2},
		{"---\n---\n", 0},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := len(splitDocuments([]byte(tc.in))); got != tc.want {
				t.Errorf("got %d documents, want %d", got, tc.want)
			}
		})
	}
}

// TestStrictDecodingCatchesTypos makes sure the manifest test can fail: an
// unknown field is refused, as kubectl's strict validation refuses it.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	b, err := os.ReadFile("k8s/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(b, []byte("terminationGracePeriodSeconds:"), []byte("terminationGracePeriod:"), 1)
	if err := decodeStrict(bad, &appsv1.Deployment{}); err == nil {
		t.Error("a misspelt field decoded without error")
	}
	if _, err := checkArgs([]string{"--no-such-flag", "1"}); err == nil {
		t.Error("an unknown flag passed")
	}
	if _, err := checkArgs([]string{"--port", "eighty"}); err == nil {
		t.Error("a bad flag value passed")
	}
}
