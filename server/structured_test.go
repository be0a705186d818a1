package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaValidator compiles schema with an independent JSON Schema
// implementation (not our grammar), so that a grammar bug cannot hide.
func schemaValidator(t *testing.T, schema string) func(text string) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return func(text string) error {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		return sch.Validate(v)
	}
}

// testSchema has nested objects, arrays, enums, required and optional
// properties, numbers and strings.
const testSchema = `{"type":"object","properties":{
	"name":{"type":"string","maxLength":12},
	"kind":{"enum":["cat","dog","bird"]},
	"age":{"type":"integer"},
	"tags":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":3},
	"owner":{"type":"object","properties":{"id":{"type":"number"},"ok":{"type":"boolean"}},"required":["id","ok"]}
},"required":["name","kind","owner"]}`

func TestStructuredParamErrors(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	const chat, cmpl = "/v1/chat/completions", "/v1/completions"
	msgs := `"messages": [{"role": "user", "content": "x"}]`
	tests := []struct {
		path, body string
		param      string
		code       string
		contains   string
	}{
		{chat, `{` + msgs + `, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "(?=a)"}}}}`, "response_format", "unsupported_schema_keyword", `"pattern"`},
		{cmpl, `{"prompt": "x", "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "integer", "minimum": 3, "maximum": 2}}}}`, "response_format", "unsupported_schema_keyword", `"minimum"`},
		{chat, `{` + msgs + `, "response_format": {"type": "json_schema", "json_schema": 5}}`, "response_format", "", "json_schema"},
		{chat, `{` + msgs + `, "response_format": {"type": "json_schema", "json_schema": {"schema": "{"}}}`, "response_format", "", "schema"},
		{chat, `{` + msgs + `, "response_format": {"type": "yaml"}}`, "response_format.type", "", "yaml"},
		{chat, `{` + msgs + `, "response_format": {"type": "json_schema"}}`, "response_format.json_schema", "", "required"},
		{chat, `{` + msgs + `, "guided_json": {"type": "object"}, "guided_regex": "a+"}`, "guided_regex", "", "at most one"},
		{cmpl, `{"prompt": "x", "response_format": {"type": "json_object"}, "guided_choice": ["a"]}`, "guided_choice", "", "at most one"},
		{cmpl, `{"prompt": "x", "guided_choice": "a"}`, "guided_choice", "", "array of strings"},
		{cmpl, `{"prompt": "x", "guided_choice": []}`, "guided_choice", "", "empty"},
		{cmpl, `{"prompt": "x", "guided_choice": [1, 2]}`, "guided_choice", "", "array of strings"},
		{cmpl, `{"prompt": "x", "guided_regex": 5}`, "guided_regex", "", "string"},
		{cmpl, `{"prompt": "x", "guided_regex": "(a"}`, "guided_regex", "", "guided_regex"},
		{cmpl, `{"prompt": "x", "guided_json": "not a schema"}`, "guided_json", "", "guided_json"},
		{cmpl, `{"prompt": "x", "guided_json": {"type": "string", "format": "idn-email"}}`, "guided_json", "unsupported_schema_keyword", `"format"`},
		{cmpl, `{"prompt": "x", "guided_grammar": "root ::= \"a"}`, "guided_grammar", "invalid_grammar", "line 1, column 10"},
		{cmpl, `{"prompt": "x", "grammar": "root ::= x"}`, "grammar", "invalid_grammar", `"x" is used but not defined`},
		{cmpl, `{"prompt": "x", "grammar": "start: \"a\""}`, "grammar", "invalid_grammar", "rule definition"},
		{cmpl, `{"prompt": "x", "grammar": 5}`, "grammar", "", "string"},
		{cmpl, `{"prompt": "x", "guided_grammar": ""}`, "guided_grammar", "", "empty"},
		{cmpl, `{"prompt": "x", "grammar": "root ::= (\"a\"{0,1000}){1000}"}`, "grammar", "grammar_too_complex", "grammar"},
		{cmpl, `{"prompt": "x", "guided_regex": "a", "grammar": "root ::= \"a\""}`, "grammar", "", "at most one"},
		{cmpl, `{"prompt": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}`, "tools", "", "chat/completions"},
	}
	for _, tt := range tests {
		t.Run(tt.param+" "+tt.body, func(t *testing.T) {
			resp, b := env.do(t, "POST", tt.path, tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			msg, typ, param, code := apiError(t, b)
			if typ != "invalid_request_error" || param == nil || *param != tt.param {
				t.Errorf("type %q param %v, want %q: %s", typ, param, tt.param, b)
			}
			if tt.code != "" && (code == nil || *code != tt.code) {
				t.Errorf("code %v, want %q", code, tt.code)
			}
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("message %q does not mention %q", msg, tt.contains)
			}
		})
	}
	waitIdle(t, env.engine)
}

// TestStructuredOutputFake runs constrained requests on the fake model,
// whose logits push one arbitrary token: masked, it picks among the allowed
// tokens at random, a random walk through the grammar. Every complete
// output must be valid, on both endpoints, streamed or not, with n > 1.
func TestStructuredOutputFake(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	valid := schemaValidator(t, testSchema)
	choices := []string{"yes", "no", "maybe so"}
	re := regexp.MustCompile(`^[a-c]{2,5}-[0-9]+$`)
	tests := []struct {
		name, path, extra string
		check             func(string) error
	}{
		{"json_schema chat", "/v1/chat/completions", `"response_format": {"type": "json_schema", "json_schema": {"name": "pet", "strict": true, "schema": ` + testSchema + `}}`, valid},
		{"guided_json string", "/v1/completions", `"guided_json": ` + strconvQuote(testSchema), valid},
		{"json_object", "/v1/completions", `"response_format": {"type": "json_object"}`, func(s string) error {
			var v map[string]any
			return json.Unmarshal([]byte(s), &v)
		}},
		{"guided_choice", "/v1/chat/completions", `"guided_choice": ["yes", "no", "maybe so"]`, func(s string) error {
			if !slices.Contains(choices, s) {
				return fmt.Errorf("%q is not a choice", s)
			}
			return nil
		}},
		{"guided_regex", "/v1/completions", `"guided_regex": "[a-c]{2,5}-[0-9]+"`, func(s string) error {
			if !re.MatchString(s) {
				return fmt.Errorf("%q does not match", s)
			}
			return nil
		}},
		{"grammar (GBNF)", "/v1/chat/completions", `"grammar": "root ::= [a-c]{2,5} \"-\" num\nnum ::= [0-9]+"`, func(s string) error {
			if !re.MatchString(s) {
				return fmt.Errorf("%q does not match", s)
			}
			return nil
		}},
		{"guided_grammar (Lark)", "/v1/completions", `"guided_grammar": "start: LETTERS \"-\" INT\nLETTERS: /[a-c]{2,5}/\n%import common.INT"`, func(s string) error {
			if !re.MatchString(s) {
				return fmt.Errorf("%q does not match", s)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", tt.name, stream), func(t *testing.T) {
				body := `{"max_tokens": 300, "n": 3, "seed": 7, "stream": ` + fmt.Sprint(stream) + `, ` + tt.extra
				if strings.Contains(tt.path, "chat") {
					body += `, "messages": [{"role": "user", "content": "Give me JSON"}]}`
				} else {
					body += `, "prompt": "Once upon a time"}`
				}
				resp, b := env.do(t, "POST", tt.path, body)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				texts, finishes := choiceTexts(t, b, stream, 3)
				complete := 0
				for i, text := range texts {
					if finishes[i] == "length" {
						continue // cut off by max_tokens: not complete, so not judged
					}
					if finishes[i] != "stop" {
						t.Errorf("choice %d: finish %q", i, finishes[i])
					}
					complete++
					if err := tt.check(text); err != nil {
						t.Errorf("choice %d: %q: %v", i, text, err)
					}
				}
				if complete == 0 {
					t.Errorf("no choice completed within max_tokens: %q", texts)
				}
			})
		}
	}
	waitIdle(t, env.engine)
}

// TestConstraintIgnoreEOS: with ignore_eos the EOG token does not stop the
// engine, so the constraint must: once the output is complete nothing is
// allowed and the request finishes "stop" long before max_tokens.
func TestConstraintIgnoreEOS(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	for _, extra := range []string{`"guided_choice": ["alpha", "beta"]`, `"guided_choice": ["alpha", "beta"], "min_tokens": 40`} {
		resp, b := env.do(t, "POST", "/v1/completions", `{"prompt": "Once", "max_tokens": 100, "ignore_eos": true, `+extra+`}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var r struct {
			Choices []struct {
				Text         string `json:"text"`
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if c := r.Choices[0]; (c.Text != "alpha" && c.Text != "beta") || c.FinishReason != "stop" || r.Usage.CompletionTokens >= 40 {
			t.Errorf("%s: text %q finish %q after %d tokens; want a choice, stop, well before max_tokens", extra, c.Text, c.FinishReason, r.Usage.CompletionTokens)
		}
	}
	waitIdle(t, env.engine)
}

// TestGrammarCache: the same schema compiles once; the cache stays within
// its byte budget, evicting the least recently used.
func TestGrammarCache(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	for range 3 {
		resp, b := env.do(t, "POST", "/v1/completions", `{"prompt": "x", "max_tokens": 2, "guided_json": {"type": "object", "properties": {"a": {"type": "integer"}}}}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	}
	if n := env.srv.grammars.len(); n != 1 {
		t.Errorf("%d cached grammars after one schema thrice, want 1", n)
	}
	waitIdle(t, env.engine)

	regex := func(i int) func(context.Context, grammar.Limits) (*grammar.Grammar, error) {
		return func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) {
			return l.Regex(ctx, fmt.Sprintf("a{%d}", i))
		}
	}
	one, err := grammar.Regex("a{500}")
	if err != nil {
		t.Fatal(err)
	}
	budget := 10 * one.Size() // room for about ten of them
	c := newGrammarCache(grammar.Limits{}, budget)
	for i := range 40 {
		if _, err := c.get(t.Context(), "regex", fmt.Appendf(nil, "%d", i), regex(500+i)); err != nil {
			t.Fatal(err)
		}
		if c.size() > budget {
			t.Fatalf("%d bytes cached, budget %d", c.size(), budget)
		}
	}
	if n := c.len(); n < 5 || n > 10 {
		t.Errorf("%d cached grammars, want about ten", n)
	}
	// The most recent is kept, the first long evicted.
	if _, ok := c.entries["regex\x00"+sha(fmt.Appendf(nil, "%d", 39))]; !ok {
		t.Error("the most recent grammar was evicted")
	}
	if _, ok := c.entries["regex\x00"+sha(fmt.Appendf(nil, "%d", 0))]; ok {
		t.Error("the oldest grammar is still cached")
	}
	// A grammar bigger than the whole budget is compiled but not kept.
	small := newGrammarCache(grammar.Limits{}, one.Size()/2)
	if g, err := small.get(t.Context(), "regex", []byte("x"), regex(500)); err != nil || g == nil {
		t.Fatal(err)
	}
	if n := small.len(); n != 0 {
		t.Errorf("%d cached in a cache too small for the grammar", n)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return string(s[:])
}

// choiceTexts extracts n choices' texts and finish reasons from a chat or
// completions answer, streamed or not.
func choiceTexts(t *testing.T, b []byte, stream bool, n int) ([]string, []string) {
	t.Helper()
	texts, finishes := make([]string, n), make([]string, n)
	type choice struct {
		Index   int     `json:"index"`
		Text    *string `json:"text"`
		Message *struct {
			Content *string `json:"content"`
		} `json:"message"`
		Delta *struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	}
	add := func(c choice) {
		switch {
		case c.Text != nil:
			texts[c.Index] += *c.Text
		case c.Message != nil && c.Message.Content != nil:
			texts[c.Index] += *c.Message.Content
		case c.Delta != nil && c.Delta.Content != nil:
			texts[c.Index] += *c.Delta.Content
		}
		if c.FinishReason != nil {
			finishes[c.Index] = *c.FinishReason
		}
	}
	var payloads []string
	if stream {
		payloads = sseEvents(t, strings.NewReader(string(b)))
		if len(payloads) == 0 || payloads[len(payloads)-1] != "[DONE]" {
			t.Fatalf("stream does not end with [DONE]: %s", b)
		}
		payloads = payloads[:len(payloads)-1]
	} else {
		payloads = []string{string(b)}
	}
	for _, p := range payloads {
		var r struct {
			Choices []choice `json:"choices"`
		}
		if err := json.Unmarshal([]byte(p), &r); err != nil {
			t.Fatalf("%v: %s", err, p)
		}
		for _, c := range r.Choices {
			if c.Index < 0 || c.Index >= n {
				t.Fatalf("choice index %d of %d", c.Index, n)
			}
			add(c)
		}
	}
	return texts, finishes
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
