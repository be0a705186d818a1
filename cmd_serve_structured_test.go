package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/configs"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// tinyGGUF is a random-weight model with a real 49k-token vocabulary: its
// unconstrained output is noise, so only the grammar makes it valid.
const tinyGGUF = "../shared/testdata/tiny-smollm2-q8_0.gguf"

// structuredRuns is how many seeded requests each figure counts.
const structuredRuns = 100

// compileSchemaValidator compiles schema with an independent JSON Schema
// implementation, so that a grammar bug cannot validate its own output.
func compileSchemaValidator(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validJSON validates text against s.
func validJSON(s *jsonschema.Schema, text string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// petSchema: nested objects, arrays, enums, required and optional
// properties, integers, numbers, booleans, and strings (which may hold
// escapes).
const petSchema = `{"type":"object","properties":{
 "name":{"type":"string","minLength":1,"maxLength":16},
 "species":{"enum":["cat","dog","parrot","goldfish"]},
 "age":{"type":"integer"},
 "weight":{"type":"number"},
 "vaccinated":{"type":"boolean"},
 "tags":{"type":"array","items":{"type":"string","maxLength":8},"minItems":1,"maxItems":3},
 "owner":{"type":"object","properties":{
   "name":{"type":"string","maxLength":16},
   "address":{"type":"object","properties":{"city":{"type":"string","maxLength":12},"zip":{"type":"string","maxLength":6}},"required":["city"]},
   "phones":{"type":"array","items":{"type":"object","properties":{"kind":{"enum":["home","work"]},"number":{"type":"string","maxLength":10}},"required":["kind","number"]},"maxItems":2}
 },"required":["name","address"]},
 "note":{"anyOf":[{"type":"string","maxLength":12},{"type":"null"}]}
},"required":["name","species","age","owner","tags"]}`

// runSeeded sends structuredRuns requests (seeds 1..structuredRuns), four
// at a time, and hands each answer to check.
func runSeeded(t *testing.T, url, path string, body func(seed int) string, check func(seed int, resp string)) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for seed := 1; seed <= structuredRuns; seed++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			status, b := post(t, url+path, body(seed))
			if status != 200 {
				t.Errorf("seed %d: status %d: %s", seed, status, b)
				return
			}
			check(seed, b)
		}()
	}
	wg.Wait()
}

// TestStructuredOutputs100 is the figure: with a random-weight
// model, json_schema output validates in 100 of 100 seeded runs, and
// tool_choice required yields a parseable call whose arguments validate
// against the tool's schema in 100 of 100. Runs cut by max_tokens would
// not count as valid; the test requires every run to complete.
func TestStructuredOutputs100(t *testing.T) {
	if _, err := os.Stat(tinyGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	url := startServe(t, func(c *configs.Config) {
		c.Model, c.SessionLen, c.KVCacheSize, c.ToolCallParser = tinyGGUF, 2048, "64MiB", "hermes"
	})

	t.Run("json_schema", func(t *testing.T) {
		sch := compileSchemaValidator(t, petSchema)
		var mu sync.Mutex
		complete, length, escapes := 0, 0, 0
		runSeeded(t, url, "/v1/chat/completions", func(seed int) string {
			return fmt.Sprintf(`{"messages":[{"role":"user","content":"Describe a pet as JSON."}],"max_tokens":400,"temperature":1,"seed":%d,
				"response_format":{"type":"json_schema","json_schema":{"name":"pet","strict":true,"schema":%s}}}`, seed, petSchema)
		}, func(seed int, b string) {
			var r struct {
				Choices []struct {
					Message      struct{ Content string }
					FinishReason string `json:"finish_reason"`
				}
			}
			if err := json.Unmarshal([]byte(b), &r); err != nil || len(r.Choices) != 1 {
				t.Errorf("seed %d: %v %s", seed, err, b)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if r.Choices[0].FinishReason == "length" {
				length++
				return
			}
			complete++
			text := r.Choices[0].Message.Content
			if strings.Contains(text, `\`) {
				escapes++
			}
			if err := validJSON(sch, text); err != nil {
				t.Errorf("seed %d: %q: %v", seed, text, err)
			}
		})
		t.Logf("json_schema: %d of %d complete and valid (%d with escapes), %d cut by max_tokens", complete, structuredRuns, escapes, length)
		if complete != structuredRuns {
			t.Errorf("%d of %d runs complete", complete, structuredRuns)
		}
	})

	// parallel_tool_calls false: exactly one call, and every run must
	// complete (the done-when figure); true (OpenAI's default): one or more
	// calls, each valid, some runs making several.
	for _, parallel := range []bool{false, true} {
		t.Run(fmt.Sprintf("tool_choice required, parallel_tool_calls %v", parallel), func(t *testing.T) {
			weather := `{"type":"object","properties":{"city":{"type":"string","maxLength":20},"unit":{"enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},"required":["city","unit"]}`
			search := `{"type":"object","properties":{"query":{"type":"string","maxLength":30},"filters":{"type":"array","items":{"type":"object","properties":{"field":{"type":"string","maxLength":10},"value":{"type":"number"}},"required":["field","value"]},"maxItems":2}},"required":["query"]}`
			schemas := map[string]*jsonschema.Schema{"get_weather": compileSchemaValidator(t, weather), "search": compileSchemaValidator(t, search)}
			tools := fmt.Sprintf(`[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":%s}},
			{"type":"function","function":{"name":"search","description":"Search the web","parameters":%s}}]`, weather, search)
			var mu sync.Mutex
			complete, length, multi := 0, 0, 0
			names := map[string]int{}
			runSeeded(t, url, "/v1/chat/completions", func(seed int) string {
				return fmt.Sprintf(`{"messages":[{"role":"user","content":"What is the weather in Paris?"}],"max_tokens":300,"temperature":1,"seed":%d,
				"tools":%s,"tool_choice":"required","parallel_tool_calls":%v}`, seed, tools, parallel)
			}, func(seed int, b string) {
				var r struct {
					Choices []struct {
						Message struct {
							Content   *string
							ToolCalls []struct {
								ID       string
								Type     string
								Function struct{ Name, Arguments string }
							} `json:"tool_calls"`
						}
						FinishReason string `json:"finish_reason"`
					}
				}
				if err := json.Unmarshal([]byte(b), &r); err != nil || len(r.Choices) != 1 {
					t.Errorf("seed %d: %v %s", seed, err, b)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ch := r.Choices[0]
				if ch.FinishReason == "length" {
					length++
					return
				}
				complete++
				n := len(ch.Message.ToolCalls)
				if ch.FinishReason != "tool_calls" || n == 0 || (!parallel && n != 1) {
					t.Errorf("seed %d: finish %q, %d calls: %s", seed, ch.FinishReason, n, b)
					return
				}
				if n > 1 {
					multi++
				}
				for _, c := range ch.Message.ToolCalls {
					sch := schemas[c.Function.Name]
					if sch == nil || c.Type != "function" || c.ID == "" {
						t.Errorf("seed %d: call %+v", seed, c)
						return
					}
					names[c.Function.Name]++
					if err := validJSON(sch, c.Function.Arguments); err != nil {
						t.Errorf("seed %d: %s arguments %q: %v", seed, c.Function.Name, c.Function.Arguments, err)
					}
				}
			})
			t.Logf("tool_choice required, parallel %v: %d of %d complete with valid calls %v (%d with several calls), %d cut by max_tokens",
				parallel, complete, structuredRuns, names, multi, length)
			switch {
			case !parallel && complete != structuredRuns:
				t.Errorf("%d of %d runs complete", complete, structuredRuns)
			case parallel && (multi == 0 || complete < structuredRuns/2):
				t.Errorf("parallel calls: %d complete, %d with several calls", complete, multi)
			}
		})
	}
}
