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

// The Node SDK suites, installed by .ci/run (and make test) with npm ci.
const (
	nodeSuite      = "server/testdata/openai-node"
	anthropicSuite = "server/testdata/anthropic-node"
)

// nodeSDKSuite names one node --test file of a suite, the SDK package it
// needs, and the API key the served model checks.
type nodeSDKSuite struct {
	dir, file, sdk, apiKey string
	// anyModelName serves without --strict-model-name (the suite does not
	// ask for a 404 on an unknown model).
	anyModelName bool
}

// runNodeSuite runs s against a real kiln serve on stories260K with the
// Hermes tool-call parser (stories260K has no chat template: the ChatML
// fallback renders tools and tool messages, and writes calls as Hermes
// does). Outside CI it skips where node or the SDK is not installed; in CI
// ($CI set, as .ci/run installs both) a missing one is a failure, so a
// suite cannot silently stop running.
func runNodeSuite(t *testing.T, s nodeSDKSuite) {
	missing := t.Skipf
	if os.Getenv("CI") != "" {
		missing = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not installed")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "node_modules", s.sdk, "package.json")); err != nil {
		missing("the SDK %s is not installed (npm ci --prefix %s)", s.sdk, s.dir)
	}
	url := startServe(t, func(c *configs.Config) {
		c.APIKeys = []string{s.apiKey}
		c.ToolCallParser, c.EnableAutoToolChoice = "hermes", true
		c.StrictModelName = !s.anyModelName
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", s.file)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "KILN_URL="+url, "KILN_MODEL=stories260K", "KILN_API_KEY="+s.apiKey)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", s.file, err, out)
	}
	t.Logf("%s", out)
}

// TestOpenAINodeSDK runs the official OpenAI Node SDK's chat suite against
// a real kiln serve.
func TestOpenAINodeSDK(t *testing.T) {
	runNodeSuite(t, nodeSDKSuite{dir: nodeSuite, file: "openai.test.mjs", sdk: "openai", apiKey: "sk-node"})
}

// TestOpenAINodeResponses runs the OpenAI Node SDK's Responses API suite:
// /v1/responses streamed and not, previous_response_id, a function call
// round trip, retrieve and delete, typed errors.
func TestOpenAINodeResponses(t *testing.T) {
	runNodeSuite(t, nodeSDKSuite{dir: nodeSuite, file: "responses.test.mjs", sdk: "openai", apiKey: "sk-node", anyModelName: true})
}

// TestAnthropicNodeSDK runs the official Anthropic SDK suite: /v1/messages
// streamed and not, a tool round trip, count_tokens and typed errors.
func TestAnthropicNodeSDK(t *testing.T) {
	runNodeSuite(t, nodeSDKSuite{dir: anthropicSuite, file: "anthropic.test.mjs", sdk: "@anthropic-ai/sdk", apiKey: "sk-ant-node"})
}
