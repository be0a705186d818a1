package main

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// smollmGGUF is the second model of the several-models tests.
const smollmGGUF = "../shared/testdata/tiny-smollm2-q8_0.gguf"

// routedState is one model of a router's /v1/models.
type routedState struct {
	ID     string `json:"id"`
	Status struct {
		Value string `json:"value"`
		Bytes int64  `json:"bytes"`
	} `json:"status"`
}

// listModels is url's /v1/models by id.
func listModels(t *testing.T, url string) map[string]routedState {
	t.Helper()
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Data []routedState }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]routedState{}
	for _, m := range list.Data {
		out[m.ID] = m
	}
	return out
}

// waitModelState polls /v1/models until model id is in state want.
func waitModelState(t *testing.T, url, id, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := listModels(t, url)[id].Status.Value
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("model %s is %q after %s, want %q", id, got, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startTwoModels serves stories260K (the default) and tiny-smollm2 from
// one in-process kiln serve.
func startTwoModels(t *testing.T, edit func(*configs.Config)) string {
	t.Helper()
	for _, p := range []string{storiesGGUF, smollmGGUF} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("no test model: %v", err)
		}
	}
	return startServe(t, func(c *configs.Config) {
		c.Models = []configs.ModelSpec{{Path: smollmGGUF, Name: "smollm", SessionLen: 256, MaxNumSeqs: 2}}
		if edit != nil {
			edit(c)
		}
	})
}

// complete asks model for a few greedy tokens and checks who answered.
func complete(t *testing.T, url, model string) {
	t.Helper()
	status, body := post(t, url+"/v1/completions", `{"model":"`+model+`","prompt":"Once upon","max_tokens":4,"temperature":0}`)
	if status != 200 {
		t.Fatalf("completion from %s: %d %s", model, status, body)
	}
	var out struct{ Model string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Model != model {
		t.Fatalf("completion for %s answered by %q (%v)", model, out.Model, err)
	}
}

func TestServeSeveralModels(t *testing.T) {
	url := startTwoModels(t, nil)
	waitModelState(t, url, "stories260K", "loaded", 30*time.Second) // the default loads at start
	if got := listModels(t, url)["smollm"].Status.Value; got != "unloaded" {
		t.Fatalf("smollm is %q before any request", got)
	}
	t.Run("a request for the unloaded model loads it", func(t *testing.T) {
		complete(t, url, "smollm")
		if got := listModels(t, url)["smollm"]; got.Status.Value != "loaded" || got.Status.Bytes <= 0 {
			t.Errorf("smollm after its request: %+v", got)
		}
	})
	t.Run("each model keeps its chat template", func(t *testing.T) {
		status, body := post(t, url+"/tokenize", `{"model":"smollm","messages":[{"role":"user","content":"hi"}]}`)
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		var tk struct{ Tokens []int32 }
		_ = json.Unmarshal([]byte(body), &tk)
		status, body = post(t, url+"/detokenize", `{"model":"smollm","tokens":`+toJSON(tk.Tokens)+`}`)
		if status != 200 || !strings.Contains(body, "named SmolLM") { // its template's default system prompt
			t.Errorf("smollm's chat prompt is not rendered by its own template: %d %s", status, body)
		}
	})
	t.Run("both answer, the default without a model", func(t *testing.T) {
		complete(t, url, "stories260K")
		status, body := post(t, url+"/v1/completions", `{"prompt":"Once","max_tokens":2}`)
		if status != 200 || !strings.Contains(body, `"model":"stories260K"`) {
			t.Errorf("no model: %d %s", status, body)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		status, body := post(t, url+"/v1/chat/completions", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`)
		var e struct {
			Error struct {
				Message, Type string
				Param, Code   *string
			}
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || status != 404 || e.Error.Code == nil || *e.Error.Code != "model_not_found" {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("unload and load endpoints", func(t *testing.T) {
		// 409 while its last request's sequence is still leaving the scheduler.
		deadline := time.Now().Add(5 * time.Second)
		for {
			status, body := post(t, url+"/models/unload", `{"model":"smollm"}`)
			if status == 200 {
				break
			}
			if status != 409 || time.Now().After(deadline) {
				t.Fatalf("unload: %d %s", status, body)
			}
			time.Sleep(10 * time.Millisecond)
		}
		waitModelState(t, url, "smollm", "unloaded", time.Second)
		if status, body := post(t, url+"/models/load", `{"model":"smollm"}`); status != 200 {
			t.Fatalf("load: %d %s", status, body)
		}
		waitModelState(t, url, "smollm", "loaded", time.Second)
	})
	t.Run("health and metrics", func(t *testing.T) {
		if v := metric(t, url, `vllm:num_requests_running{model_name="smollm"}`); v != 0 {
			t.Errorf("vllm:num_requests_running %g while idle", v)
		}
		if v := metric(t, url, "kiln_num_requests_waiting"); v != 0 {
			t.Errorf("kiln_num_requests_waiting %g while idle", v)
		}
	})
}

func TestServeModelsMemoryBudget(t *testing.T) {
	// What each model holds loaded (weights plus K/V), from a server
	// without a budget; then a budget that fits either but not both.
	url := startTwoModels(t, nil)
	complete(t, url, "smollm")
	complete(t, url, "stories260K")
	list := listModels(t, url)
	a, b := list["stories260K"].Status.Bytes, list["smollm"].Status.Bytes
	if a <= 0 || b <= 0 {
		t.Fatalf("loaded bytes %d and %d", a, b)
	}
	budget := max(a, b) + min(a, b)/2
	url = startTwoModels(t, func(c *configs.Config) { c.ModelsMemoryBudget = strings.TrimSpace(jsonInt(budget)) + "B" })
	for _, id := range []string{"stories260K", "smollm", "stories260K", "smollm"} {
		complete(t, url, id)
		list := listModels(t, url)
		var held int64
		var loaded []string
		for _, m := range list {
			held += m.Status.Bytes
			if m.Status.Value == "loaded" {
				loaded = append(loaded, m.ID)
			}
		}
		if held > budget || !slices.Equal(loaded, []string{id}) {
			t.Fatalf("after a request for %s: loaded %v holding %d bytes, budget %d", id, loaded, held, budget)
		}
	}
}

func TestServeModelsKeepAlive(t *testing.T) {
	url := startTwoModels(t, func(c *configs.Config) { c.KeepAlive = 500 * time.Millisecond })
	complete(t, url, "smollm")
	waitModelState(t, url, "smollm", "unloaded", 10*time.Second)
	waitModelState(t, url, "stories260K", "unloaded", 10*time.Second)
	complete(t, url, "smollm") // loads again on use
}

func TestRepeatedModels(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--model", "a"}, []string{"--model", "a"}},
		{[]string{"--model", "a", "--port", "1", "--model", "b", "--model=c"}, []string{"--model", "a", "--port", "1", "--models", "b", "--models=c"}},
		{[]string{"--models", "a", "--model", "b"}, []string{"--models", "a", "--model", "b"}},
	} {
		t.Run(strings.Join(tc.in, " "), func(t *testing.T) {
			if got := repeatedModels(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonInt(n int64) string { return toJSON(n) }
