package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestServeHelpCoversDeployFlags checks every flag deploy/ passes to kiln
// serve (the Deployment's args, the Dockerfile's CMD) against the real
// `kiln serve --help` output. deploy's own test checks the manifests
// against the Kubernetes API types and configs' options.
func TestServeHelpCoversDeployFlags(t *testing.T) {
	root := newRootCommand()
	var help bytes.Buffer
	root.SetOut(&help)
	root.SetArgs([]string{"serve", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(help.String(), -1) {
		known[m[1]] = true
	}
	for _, want := range []string{"model", "models", "models-memory-budget", "keep-alive", "config"} {
		if !known[want] {
			t.Fatalf("kiln serve --help lacks --%s:\n%s", want, help.String())
		}
	}
	for _, src := range []struct{ file, re string }{
		{"deploy/k8s/deployment.yaml", `(?m)^\s*args:\s*(\[.*\])\s*$`},
		{"deploy/Dockerfile", `(?m)^CMD\s+(\[.*\])\s*$`},
	} {
		t.Run(src.file, func(t *testing.T) {
			b, err := os.ReadFile(src.file)
			if err != nil {
				t.Fatal(err)
			}
			found := regexp.MustCompile(src.re).FindAllSubmatch(b, -1)
			if len(found) == 0 {
				t.Fatalf("no arguments found in %s", src.file)
			}
			for _, m := range found {
				var args []string
				if err := json.Unmarshal(m[1], &args); err != nil {
					t.Fatalf("%s: %v", m[1], err)
				}
				for _, a := range args {
					name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
					if strings.HasPrefix(a, "--") && !known[name] {
						t.Errorf("%s passes %s, which kiln serve --help does not list", src.file, a)
					}
				}
			}
		})
	}
}
