package main

import (
	"encoding/json"
	"testing"

	"github.com/kiln-llm/kiln/configs"
)

// TestServeSpeculative serves stories260K with and without n-gram
// speculation: the same greedy completions (a priority given), the drafts
// counted in the usage's completion_tokens_details and in /metrics.
func TestServeSpeculative(t *testing.T) {
	plain := startServe(t, nil)
	spec := startServe(t, func(c *configs.Config) { c.Speculative, c.NumSpeculativeTokens = "ngram", 4 })
	type usage struct {
		CompletionTokens int `json:"completion_tokens"`
		Details          *struct {
			Accepted int `json:"accepted_prediction_tokens"`
			Rejected int `json:"rejected_prediction_tokens"`
		} `json:"completion_tokens_details"`
	}
	type reply struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	accepted := 0
	for _, prompt := range []string{"Once upon a time", "Lily and Ben", "The dog"} {
		body := `{"prompt": "` + prompt + `", "max_tokens": 80, "temperature": 0, "priority": 3}`
		var got [2]reply
		for i, url := range []string{plain, spec} {
			code, b := post(t, url+"/v1/completions", body)
			if code != 200 {
				t.Fatalf("%s: %d %s", url, code, b)
			}
			if err := json.Unmarshal([]byte(b), &got[i]); err != nil {
				t.Fatal(err)
			}
		}
		if got[0].Choices[0].Text != got[1].Choices[0].Text {
			t.Errorf("%q:\nplain %q\nspec  %q", prompt, got[0].Choices[0].Text, got[1].Choices[0].Text)
		}
		if got[0].Usage.Details != nil {
			t.Errorf("%q: completion_tokens_details without speculation: %+v", prompt, got[0].Usage.Details)
		}
		if d := got[1].Usage.Details; d != nil {
			accepted += d.Accepted
			if d.Accepted > got[1].Usage.CompletionTokens {
				t.Errorf("%q: %d accepted of %d completion tokens", prompt, d.Accepted, got[1].Usage.CompletionTokens)
			}
		}
	}
	drafts, acc := metric(t, spec, "kiln_spec_decode_num_draft_tokens_total"), metric(t, spec, "kiln_spec_decode_num_accepted_tokens_total")
	t.Logf("drafts %v, accepted %v (usage: %d)", drafts, acc, accepted)
	if accepted == 0 || acc != float64(accepted) || drafts < acc {
		t.Errorf("metrics: %v drafts, %v accepted; usage %d accepted: want accepted > 0 and equal", drafts, acc, accepted)
	}
	if d := metric(t, plain, "kiln_spec_decode_num_draft_tokens_total"); d != 0 {
		t.Errorf("drafts without speculation: %v", d)
	}
}
