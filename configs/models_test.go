package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestModelsOption(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("GGUF"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		file  string   // kiln.yaml body
		flags []string // serve flags
		env   string   // KILN_MODELS
		want  []ModelSpec
		err   string // a substring of the error; "" for none
	}{
		{name: "file maps", file: "model: " + a + "\nmodels:\n  - path: " + b + "\n    name: bee\n    session_len: 64\n    max_num_seqs: 2\n    kv_cache_size: 1MiB\n    chat_template: chatml\n",
			want: []ModelSpec{{Path: b, Name: "bee", SessionLen: 64, MaxNumSeqs: 2, KVCacheSize: "1MiB", ChatTemplate: "chatml"}}},
		{name: "file strings", file: "models: [" + a + ", bee=" + b + "]\n",
			want: []ModelSpec{{Path: a}, {Path: b, Name: "bee"}}},
		{name: "repeated flag", flags: []string{"--models", a, "--models", "bee=" + b},
			want: []ModelSpec{{Path: a}, {Path: b, Name: "bee"}}},
		{name: "environment", env: a + "," + b, want: []ModelSpec{{Path: a}, {Path: b}}},
		{name: "unknown key", file: "models:\n  - path: " + b + "\n    max_seqs: 2\n", err: "max_seqs: unknown key"},
		{name: "wrong type", file: "models:\n  - path: " + b + "\n    session_len: long\n", err: "session_len: want an integer"},
		{name: "missing file", file: "models: [" + filepath.Join(dir, "nope.gguf") + "]\n", err: "entry 0"},
		{name: "no path", file: "models:\n  - name: x\n", err: "path: a GGUF model file is required"},
		{name: "id twice", file: "model: " + a + "\nmodels: [" + a + "]\n", err: `model id "a" is served twice`},
		{name: "bad budget", file: "models: [" + a + "]\nmodels_memory_budget: lots\n", err: "option models_memory_budget"},
		{name: "negative keep-alive", file: "models: [" + a + "]\nkeep_alive: -1s\n", err: "option keep_alive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KILN_MODELS", tc.env)
			if tc.env == "" {
				os.Unsetenv("KILN_MODELS")
			}
			file := ""
			if tc.file != "" {
				file = filepath.Join(t.TempDir(), "kiln.yaml")
				if err := os.WriteFile(file, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			RegisterFlags(fs)
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file, fs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Models, tc.want) {
				t.Errorf("models %+v, want %+v", c.Models, tc.want)
			}
		})
	}
}

func TestForModel(t *testing.T) {
	c := Defaults()
	c.Model, c.ServedModelName, c.MaxNumSeqs, c.KeepAlive = "a.gguf", "alpha", 16, time.Minute
	c.Models = []ModelSpec{{Path: "/m/b.gguf", MaxNumSeqs: 2, KVCacheSize: "1MiB"}}
	served := c.ServedModels()
	if len(served) != 2 || served[0].ID() != "alpha" || served[1].ID() != "b" {
		t.Fatalf("served %+v", served)
	}
	b := c.ForModel(served[1])
	if b.Model != "/m/b.gguf" || b.ServedModelName != "b" || b.MaxNumSeqs != 2 || b.KVCacheBytes != 1<<20 || b.SessionLen != c.SessionLen || b.Models != nil {
		t.Errorf("ForModel: %+v", b)
	}
	if a := c.ForModel(served[0]); a.MaxNumSeqs != 16 || a.ServedModelName != "alpha" {
		t.Errorf("ForModel of model: %+v", a)
	}
}
