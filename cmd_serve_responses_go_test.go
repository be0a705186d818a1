package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"
)

// TestOpenAIGoResponses runs the official OpenAI Go SDK's Responses API
// against a real kiln serve: a response, its stream, a function call round
// trip through previous_response_id, retrieve and delete, a typed error.
func TestOpenAIGoResponses(t *testing.T) {
	url := startServe(t, func(c *configs.Config) {
		c.APIKeys = []string{"sk-test"}
		c.ToolCallParser, c.EnableAutoToolChoice = "hermes", true
	})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const model = "stories260K"
	params := responses.ResponseNewParams{
		Model:           model,
		Instructions:    openai.String("Tell a story."),
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("Once upon a time")},
		MaxOutputTokens: openai.Int(12),
		Temperature:     openai.Float(0),
	}

	r, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "incomplete" || r.IncompleteDetails.Reason != "max_output_tokens" || r.OutputText() == "" || r.Usage.OutputTokens != 12 {
		t.Fatalf("%s", r.RawJSON())
	}

	stream := client.Responses.NewStreaming(ctx, params)
	text, last := "", int64(-1)
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != last+1 {
			t.Fatalf("sequence_number %d after %d", ev.SequenceNumber, last)
		}
		last = ev.SequenceNumber
		if ev.Type == "response.output_text.delta" {
			text += ev.Delta.OfString
		}
	}
	if err := stream.Err(); err != nil || text != r.OutputText() {
		t.Fatalf("stream %v: %q, not %q", err, text, r.OutputText())
	}

	got, err := client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil || got.OutputText() != r.OutputText() {
		t.Fatalf("get: %v", err)
	}
	if err := client.Responses.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	var apiErr *openai.Error
	if _, err := client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("get after delete: %v", err)
	}

	tool := responses.ToolParamOfFunction("get_weather", map[string]any{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string", "maxLength": 12}}, "required": []string{"city"},
	}, true)
	call, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:             model,
		Input:             responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather?")},
		Tools:             []responses.ToolUnionParam{tool},
		ToolChoice:        responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)},
		ParallelToolCalls: openai.Bool(false),
		MaxOutputTokens:   openai.Int(150),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(call.Output) != 1 || call.Output[0].Type != "function_call" || call.Output[0].Name != "get_weather" {
		t.Fatalf("%s", call.RawJSON())
	}
	var args struct{ City string }
	if err := json.Unmarshal([]byte(call.Output[0].Arguments), &args); err != nil {
		t.Fatalf("arguments %q: %v", call.Output[0].Arguments, err)
	}
	next, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:              model,
		PreviousResponseID: openai.String(call.ID),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfFunctionCallOutput(call.Output[0].CallID, "sunny"),
		}},
		Tools:           []responses.ToolUnionParam{tool},
		MaxOutputTokens: openai.Int(8),
	})
	if err != nil || next.PreviousResponseID != call.ID || next.Usage.InputTokens <= call.Usage.InputTokens {
		t.Fatalf("follow-up %v: %s", err, next.RawJSON())
	}
}
