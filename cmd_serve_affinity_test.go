package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/configs"
)

// TestServeReplicasPrefixAffinity serves -dp 2 and sends prompts sharing a
// long prefix one after another: every request after the first reuses the
// prefix (cached_tokens > 0) because the balancer sends it to the replica
// that holds it; /metrics shows the routing per replica; distinct prompts
// still reach both replicas.
func TestServeReplicasPrefixAffinity(t *testing.T) {
	url := startServe(t, func(c *configs.Config) { c.DataParallelSize, c.TensorParallelSize = 2, 1 })
	prefix := strings.Repeat("Once upon a time there was a little girl who liked to play in the park. ", 4)
	for i := range 6 {
		body := fmt.Sprintf(`{"prompt":%q,"max_tokens":4}`, prefix+fmt.Sprintf("Story %d:", i))
		status, out := post(t, url+"/v1/completions", body)
		if status != 200 {
			t.Fatalf("request %d: %d %s", i, status, out)
		}
		var resp struct {
			Usage struct {
				PromptTokensDetails struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatal(err)
		}
		if c := resp.Usage.PromptTokensDetails.CachedTokens; (i == 0) != (c == 0) {
			t.Fatalf("request %d: cached_tokens %d", i, c)
		}
	}
	routed := func(reason string) [2]float64 {
		text := metricsText(t, url)
		var out [2]float64
		for r := range 2 {
			re := regexp.MustCompile(fmt.Sprintf(`(?m)^kiln_replica_routed_requests_total\{model_name="[^"]+",reason="%s",replica="%d"\} (\S+)$`, reason, r))
			m := re.FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("no %s routes of replica %d in /metrics", reason, r)
			}
			out[r], _ = strconv.ParseFloat(m[1], 64)
		}
		return out
	}
	if p := routed("prefix"); !(p[0] == 5 && p[1] == 0 || p[0] == 0 && p[1] == 5) {
		t.Fatalf("prefix routes per replica %v, want all 5 on one", p)
	}
	for i := range 6 {
		if status, out := post(t, url+"/v1/completions", fmt.Sprintf(`{"prompt":"%d little bears","max_tokens":2}`, i)); status != 200 {
			t.Fatalf("%d %s", status, out)
		}
	}
	if l := routed("load"); l[0] == 0 || l[1] == 0 {
		t.Fatalf("distinct prompts by replica %v: load did not spread", l)
	}
}
