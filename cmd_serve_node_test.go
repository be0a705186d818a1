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

// nodeSuite is the OpenAI Node SDK suite (installed by .ci/run with npm ci).
const nodeSuite = "server/testdata/openai-node"

// TestOpenAINodeSDK runs the official OpenAI Node SDK suite against a real
// kiln serve. Outside CI it skips where node or the SDK is not installed; in
// CI ($CI set, as .ci/run installs both) a missing one is a failure, so the
// suite cannot silently stop running.
func TestOpenAINodeSDK(t *testing.T) {
	missing := t.Skipf
	if os.Getenv("CI") != "" {
		missing = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not installed")
	}
	if _, err := os.Stat(filepath.Join(nodeSuite, "node_modules", "openai", "package.json")); err != nil {
		missing("the OpenAI Node SDK is not installed (npm ci --prefix %s)", nodeSuite)
	}
	url := startServe(t, func(c *configs.Config) {
		c.APIKeys = []string{"sk-node"}
		// stories260K has no chat template: the ChatML fallback renders
		// tools and tool messages, and writes calls as Hermes does.
		c.ToolCallParser, c.EnableAutoToolChoice = "hermes", true
		c.StrictModelName = true // the suite expects vLLM's 404 for an unknown model
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "openai.test.mjs")
	cmd.Dir = nodeSuite
	cmd.Env = append(os.Environ(), "KILN_URL="+url, "KILN_MODEL=stories260K", "KILN_API_KEY=sk-node")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
