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

// TestOpenAINodeResponses runs the OpenAI Node SDK's Responses API suite
// (responses.test.mjs, beside the chat suite) against a real kiln serve:
// /v1/responses streamed and not, previous_response_id, a function call
// round trip, retrieve and delete, typed errors. It skips or fails on a
// missing node or SDK as TestOpenAINodeSDK does.
func TestOpenAINodeResponses(t *testing.T) {
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
		c.ToolCallParser, c.EnableAutoToolChoice = "hermes", true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "responses.test.mjs")
	cmd.Dir = nodeSuite
	cmd.Env = append(os.Environ(), "KILN_URL="+url, "KILN_MODEL=stories260K", "KILN_API_KEY=sk-node")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
