package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/configs"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFixture is the engine's fixture of Pydantic / zod / OpenAI strict
// schemas.
const schemaFixture = "engine/grammar/testdata/schemas_pydantic_zod.json"

// TestServeSchemaKeywords sends fixture schemas that use ranges,
// multipleOf, pattern, format, prefixItems and uniqueItems to a real
// `kiln serve` with a random-weight model, and validates every answer with
// an independent validator asserting formats; then a GBNF grammar and a
// Lark guided_grammar, checked by regular expressions.
func TestServeSchemaKeywords(t *testing.T) {
	if _, err := os.Stat(tinyGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	data, err := os.ReadFile(schemaFixture)
	if err != nil {
		t.Fatal(err)
	}
	var fixture []struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(data, &fixture); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"pydantic/event_dates": true, "pydantic/tuple": true, "pydantic/multiple_of": true, "pydantic/ip_hosts": true,
		"pydantic/confloat_open": true, "pydantic/set_of_enum": true, "zod/intersection": true, "pydantic/uuid_and_uri": true,
	}
	url := startServe(t, func(c *configs.Config) {
		c.Model, c.SessionLen, c.KVCacheSize = tinyGGUF, 4096, "64MiB"
	})
	const seeds = 3
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var mu sync.Mutex
	valid := 0
	for _, f := range fixture {
		if !want[f.Name] {
			continue
		}
		delete(want, f.Name)
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(f.Schema)))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("s.json", doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile("s.json")
		if err != nil {
			t.Fatal(err)
		}
		for seed := 1; seed <= seeds; seed++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				status, b := post(t, url+"/v1/chat/completions", fmt.Sprintf(`{"messages":[{"role":"user","content":"Answer in JSON."}],
					"max_tokens":1500,"temperature":1,"seed":%d,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":%s}}}`, seed, f.Schema))
				if status != 200 {
					t.Errorf("%s seed %d: status %d: %s", f.Name, seed, status, b)
					return
				}
				var r struct {
					Choices []struct {
						Message      struct{ Content string }
						FinishReason string `json:"finish_reason"`
					}
				}
				if err := json.Unmarshal([]byte(b), &r); err != nil || len(r.Choices) != 1 {
					t.Errorf("%s seed %d: %v %s", f.Name, seed, err, b)
					return
				}
				if fr := r.Choices[0].FinishReason; fr != "stop" {
					t.Errorf("%s seed %d: finish %q: %q", f.Name, seed, fr, r.Choices[0].Message.Content)
					return
				}
				if err := validJSON(sch, r.Choices[0].Message.Content); err != nil {
					t.Errorf("%s seed %d: %q: %v", f.Name, seed, r.Choices[0].Message.Content, err)
					return
				}
				mu.Lock()
				valid++
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if len(want) > 0 {
		t.Errorf("fixture schemas missing: %v", want)
	}
	t.Logf("%d of %d schema-constrained answers valid", valid, 8*seeds)

	re := regexp.MustCompile(`^[a-c]{2,5}-[0-9]+$`)
	for _, tc := range []struct{ param, grammar string }{
		{"grammar", `root ::= [a-c]{2,5} "-" num` + "\n" + `num ::= [0-9]{1,6}`},
		{"guided_grammar", "start: LETTERS \"-\" NUM\nLETTERS: /[a-c]{2,5}/\nNUM: /[0-9]{1,6}/"},
	} {
		for seed := 1; seed <= seeds; seed++ {
			body, _ := json.Marshal(map[string]any{"prompt": "Once", "max_tokens": 50, "seed": seed, "temperature": 1, tc.param: tc.grammar})
			status, b := post(t, url+"/v1/completions", string(body))
			var r struct {
				Choices []struct {
					Text         string
					FinishReason string `json:"finish_reason"`
				}
			}
			if status != 200 || json.Unmarshal([]byte(b), &r) != nil || len(r.Choices) != 1 {
				t.Fatalf("%s: status %d: %s", tc.param, status, b)
			}
			if c := r.Choices[0]; c.FinishReason != "stop" || !re.MatchString(c.Text) {
				t.Errorf("%s seed %d: %q finish %q", tc.param, seed, c.Text, c.FinishReason)
			}
		}
	}
}
