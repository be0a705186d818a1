package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// anthropicSuite is the Anthropic TypeScript SDK suite (installed by .ci/run
// with npm ci).
const anthropicSuite = "server/testdata/anthropic-node"

// TestAnthropicNodeSDK runs the official Anthropic SDK suite against a real
// kiln serve: /v1/messages streamed and not, a tool round trip,
// count_tokens and typed errors. Outside CI it skips where node or the SDK
// is not installed; in CI ($CI set) a missing one is a failure.
func TestAnthropicNodeSDK(t *testing.T) {
	missing := t.Skipf
	if os.Getenv("CI") != "" {
		missing = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not installed")
	}
	if _, err := os.Stat(filepath.Join(anthropicSuite, "node_modules", "@anthropic-ai", "sdk", "package.json")); err != nil {
		missing("the Anthropic SDK is not installed (npm ci --prefix %s)", anthropicSuite)
	}
	url := startServe(t, func(c *configs.Config) {
		c.APIKeys = []string{"sk-ant-node"}
		c.ToolCallParser, c.EnableAutoToolChoice = "hermes", true
		c.StrictModelName = true // the suite expects a 404 for an unknown model
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "anthropic.test.mjs")
	cmd.Dir = anthropicSuite
	cmd.Env = append(os.Environ(), "KILN_URL="+url, "KILN_MODEL=stories260K", "KILN_API_KEY=sk-ant-node")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
