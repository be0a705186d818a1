package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBenchModelDraft runs `kiln bench model --draft-model` on stories260K
// with its Q8_0 copy as the draft: the JSON report has both speeds, the
// acceptance and fewer steps with the draft (no speed is asserted); a
// draft of another tokenizer and bad options are refused.
func TestBenchModelDraft(t *testing.T) {
	if _, err := os.Stat(storiesQ8GGUF); err != nil {
		t.Skipf("no draft model: %v", err)
	}
	out, errw, err := runKilnOutput(t, "bench", "model", "-m", storiesGGUF, "--draft-model", storiesQ8GGUF,
		"-p", "8", "-n", "48", "-r", "2", "-t", "1", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	var rep draftBenchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("results %+v", rep.Results)
	}
	r := rep.Results[0]
	t.Logf("%+v", r)
	if r.PlainTPS <= 0 || r.DraftTPS <= 0 || len(r.RunRatios) != 2 || r.Drafts == 0 || r.Accepted == 0 || r.Steps >= r.PlainSteps {
		t.Errorf("report %+v: want speeds, 2 run ratios, accepted drafts and fewer steps with the draft", r)
	}
	for _, bad := range [][]string{
		{"--draft-model", tinyGGUF},
		{"--draft-model", storiesQ8GGUF, "--num-speculative-tokens", "0"},
		{"--draft-model", storiesQ8GGUF, "-n", "1"},
	} {
		args := append([]string{"bench", "model", "-m", storiesGGUF, "-p", "8", "-n", "16", "-r", "1", "-t", "1"}, bad...)
		if _, _, err := runKilnOutput(t, args...); err == nil || !strings.Contains(err.Error(), "bench model") {
			t.Errorf("%v: error %v, want a bench model error", bad, err)
		}
	}
}
