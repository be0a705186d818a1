package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// furiosaCurl is furiosa-llm's first example ("Using the OpenAI API",
// developer.furiosa.ai, furiosa_llm/furiosa-llm-serve.html), verbatim.
const furiosaCurl = `curl http://localhost:8000/v1/chat/completions \
    -H "Content-Type: application/json" \
    -d '{
    "model": "EMPTY",
    "messages": [{"role": "user", "content": "What is the capital of France?"}]
    }' \
    | python -m json.tool`

// furiosaStreamingClient is its streaming client; the test sends the
// same request through the OpenAI Go SDK (the Python SDK's twin):
//
//	base_url = "http://localhost:8000/v1"
//	api_key = "EMPTY"
//	client = AsyncOpenAI(api_key=api_key, base_url=base_url)
//	stream_chat_completion = await client.chat.completions.create(
//	    model="EMPTY",
//	    messages=[{"role": "user", "content": "What is the capital of France?"}],
//	    stream=True,
//	)
//	async for chunk in stream_chat_completion:
//	    print(chunk.choices[0].delta.content or "", end="", flush=True)
func furiosaStreamingClient(ctx context.Context, url string) (string, error) {
	client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("EMPTY"), option.WithMaxRetries(0))
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "EMPTY",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the capital of France?")},
	})
	var out strings.Builder
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 {
			out.WriteString(c.Choices[0].Delta.Content)
		}
	}
	return out.String(), stream.Err()
}

// TestSeedFuriosa: furiosa-llm's documented requests, verbatim, against
// kiln serve hosting one model: any model name (their "EMPTY") is served;
// --strict-model-name restores vLLM's 404.
func TestSeedFuriosa(t *testing.T) {
	url := startServe(t, nil)
	t.Run("curl", func(t *testing.T) {
		status, body := runCurl(t, url, furiosaCurl)
		var r struct {
			Model   string
			Choices []struct {
				Message      struct{ Role, Content string }
				FinishReason string `json:"finish_reason"`
			}
		}
		mustJSON(t, status, body, &r)
		if r.Model != "stories260K" || len(r.Choices) != 1 || r.Choices[0].Message.Role != "assistant" || r.Choices[0].Message.Content == "" {
			t.Errorf("answer %s", body)
		}
	})
	t.Run("streaming client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		text, err := furiosaStreamingClient(ctx, url)
		if err != nil || text == "" {
			t.Errorf("stream: %q, %v", text, err)
		}
	})
	// The sampling parameters its SamplingParams documents, on both
	// endpoints (furiosa_llm/reference/sampling_params.html).
	for _, tc := range []struct{ name, path, body string }{
		{"n", "/v1/completions", `{"model": "EMPTY", "prompt": "Once upon a time", "n": 3, "max_tokens": 8, "seed": 1}`},
		{"best_of", "/v1/completions", `{"model": "EMPTY", "prompt": "Once upon a time", "n": 2, "best_of": 4, "max_tokens": 8}`},
		{"use_beam_search", "/v1/completions", `{"model": "EMPTY", "prompt": "Once upon a time", "use_beam_search": true, "best_of": 4, "n": 2, "length_penalty": 0.8, "early_stopping": true, "max_tokens": 8}`},
		{"early_stopping never", "/v1/chat/completions", `{"model": "EMPTY", "messages": [{"role": "user", "content": "Hi"}], "use_beam_search": true, "best_of": 3, "early_stopping": "never", "max_tokens": 8}`},
		{"min_tokens", "/v1/completions", `{"model": "EMPTY", "prompt": "Once upon a time", "min_tokens": 12, "max_tokens": 12, "temperature": 0}`},
		{"repetition_penalty min_p", "/v1/chat/completions", `{"model": "EMPTY", "messages": [{"role": "user", "content": "Hi"}], "repetition_penalty": 1.2, "min_p": 0.05, "top_k": 40, "max_tokens": 8}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, url+tc.path, tc.body)
			var r struct {
				Choices []json.RawMessage
				Usage   struct {
					CompletionTokens int `json:"completion_tokens"`
				}
			}
			mustJSON(t, status, body, &r)
			want := 1
			if strings.Contains(tc.body, `"n": 3`) {
				want = 3
			} else if strings.Contains(tc.body, `"n": 2`) {
				want = 2
			}
			if len(r.Choices) != want {
				t.Errorf("%d choices, want %d: %s", len(r.Choices), want, body)
			}
			if strings.Contains(tc.body, "min_tokens") && r.Usage.CompletionTokens != 12 {
				t.Errorf("min_tokens 12: %d tokens", r.Usage.CompletionTokens)
			}
		})
	}
}

// furiosaTools is the tool of furiosa-llm's tool-calling example
// (furiosa_llm/toolcalling.html: get_current_weather(city, state, unit)).
const furiosaTools = `[{"type": "function", "function": {"name": "get_current_weather",
  "description": "Get the current weather in a given location",
  "parameters": {"type": "object", "properties": {
    "city": {"type": "string", "description": "The city to find the weather for, e.g. 'San Francisco'"},
    "state": {"type": "string", "description": "the two-letter abbreviation for the state that the city is in, e.g. 'CA' which would mean 'California'"},
    "unit": {"type": "string", "description": "The unit to fetch the temperature in", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "state", "unit"]}}}]`

// TestSeedFuriosaTools: tools with furiosa-llm's server options
// (--enable-auto-tool-choice --tool-call-parser llama3_json): required and
// named calls come back as tool_calls whose arguments match the tool.
func TestSeedFuriosaTools(t *testing.T) {
	url := startServe(t, func(c *configs.Config) {
		c.ToolCallParser, c.EnableAutoToolChoice, c.SessionLen = "llama3_json", true, 2048
	})
	for _, choice := range []string{`"required"`, `{"type": "function", "function": {"name": "get_current_weather"}}`, `"auto"`} {
		t.Run(choice, func(t *testing.T) {
			// A forced call's string arguments have no maxLength: the tiny
			// model may take long to close them, so the limit is generous.
			maxTokens := "1400"
			if choice == `"auto"` {
				maxTokens = "64"
			}
			status, body := post(t, url+"/v1/chat/completions", `{"model": "EMPTY", "max_tokens": `+maxTokens+`, "seed": 3, "parallel_tool_calls": false,
				"messages": [{"role": "user", "content": "What is the weather like in Dallas, TX?"}],
				"tools": `+furiosaTools+`, "tool_choice": `+choice+`}`)
			var r struct {
				Choices []struct {
					Message struct {
						ToolCalls []struct {
							Type     string
							Function struct{ Name, Arguments string }
						} `json:"tool_calls"`
					}
					FinishReason string `json:"finish_reason"`
				}
			}
			mustJSON(t, status, body, &r)
			if choice == `"auto"` {
				return // the model decides; a 200 is the contract
			}
			if len(r.Choices) != 1 || len(r.Choices[0].Message.ToolCalls) == 0 || r.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("no tool call: %s", body)
			}
			call := r.Choices[0].Message.ToolCalls[0]
			var args struct {
				City, State, Unit *string
			}
			if call.Type != "function" || call.Function.Name != "get_current_weather" || json.Unmarshal([]byte(call.Function.Arguments), &args) != nil ||
				args.City == nil || args.State == nil || args.Unit == nil || (*args.Unit != "celsius" && *args.Unit != "fahrenheit") {
				t.Errorf("call %+v", call)
			}
		})
	}
}

// TestSeedModelNames: one served model answers any name; with
// --strict-model-name only its names (the comma-separated served names)
// are served and another is a 404 model_not_found.
func TestSeedModelNames(t *testing.T) {
	url := startServe(t, func(c *configs.Config) {
		c.StrictModelName, c.ServedModelName = true, "stories,tiny-stories"
		c.ModelNames = nil // Validate (in startServe) fills them
	})
	for _, tc := range []struct {
		model  string
		status int
	}{{"stories", 200}, {"tiny-stories", 200}, {"EMPTY", 404}, {"", 200}} {
		t.Run(tc.model, func(t *testing.T) {
			status, body := post(t, url+"/v1/completions", `{"model": "`+tc.model+`", "prompt": "Once", "max_tokens": 2}`)
			if status != tc.status {
				t.Fatalf("%d %s", status, body)
			}
			if status == 404 && !strings.Contains(body, `"code":"model_not_found"`) {
				t.Errorf("404 body %s", body)
			}
		})
	}
}
