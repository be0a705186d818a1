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
)

// TestOpenAIGoSDK runs the official OpenAI Go SDK, as its users write it,
// against a real kiln serve on stories260K.
func TestOpenAIGoSDK(t *testing.T) {
	url := startServe(t, func(c *configs.Config) { c.APIKeys = []string{"sk-test"} })
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const model = "stories260K"

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil || len(page.Data) != 1 || page.Data[0].ID != model {
			t.Fatalf("%v %+v", err, page)
		}
		m, err := client.Models.Get(ctx, model)
		if err != nil || m.ID != model || m.OwnedBy != "kiln" {
			t.Fatalf("%v %+v", err, m)
		}
	})
	t.Run("completion", func(t *testing.T) {
		c, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:       model,
			Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens:   openai.Int(12),
			Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) != 1 || c.Choices[0].Text == "" || c.Choices[0].FinishReason != "length" || c.Usage.CompletionTokens != 12 {
			t.Errorf("%+v", c)
		}
	})
	t.Run("chat with logprobs and seed determinism", func(t *testing.T) {
		params := openai.ChatCompletionNewParams{
			Model:       model,
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Tell a story."), openai.UserMessage("Once")},
			MaxTokens:   openai.Int(10),
			Seed:        openai.Int(42),
			Temperature: openai.Float(1),
			Logprobs:    openai.Bool(true),
			TopLogprobs: openai.Int(3),
		}
		a, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		b, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if a.Choices[0].Message.Content == "" || a.Choices[0].Message.Content != b.Choices[0].Message.Content {
			t.Errorf("same seed, different text: %q vs %q", a.Choices[0].Message.Content, b.Choices[0].Message.Content)
		}
		if lp := a.Choices[0].Logprobs.Content; len(lp) != 10 || len(lp[0].TopLogprobs) != 3 {
			t.Errorf("logprobs: %d entries", len(lp))
		}
		if a.Choices[0].Message.Role != "assistant" || a.Usage.TotalTokens != a.Usage.PromptTokens+10 {
			t.Errorf("%+v", a)
		}
	})
	t.Run("n choices", func(t *testing.T) {
		c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once")},
			MaxTokens: openai.Int(6), N: openai.Int(3), Seed: openai.Int(5),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) != 3 || c.Choices[2].Index != 2 || c.Usage.CompletionTokens != 18 {
			t.Errorf("%+v", c)
		}
	})
	t.Run("chat stream with usage", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         model,
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once")},
			MaxTokens:     openai.Int(8),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		acc := openai.ChatCompletionAccumulator{}
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if chunks < 3 || acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "length" || acc.Usage.CompletionTokens != 8 {
			t.Errorf("%d chunks, %+v", chunks, acc.ChatCompletion)
		}
	})
	t.Run("completion stream with stop", func(t *testing.T) {
		stream := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:       model,
			Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens:   openai.Int(40),
			Temperature: openai.Float(0),
			Stop:        openai.CompletionNewParamsStopUnion{OfString: openai.String("Lily")},
		})
		text, finish := "", ""
		for stream.Next() {
			for _, c := range stream.Current().Choices {
				text += c.Text
				if c.FinishReason != "" {
					finish = string(c.FinishReason)
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text != ", there was a little girl named " || finish != "stop" {
			t.Errorf("text %q finish %q", text, finish)
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		e, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: model,
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"Once upon a time", "The end"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Data) != 2 || len(e.Data[0].Embedding) == 0 || e.Data[1].Index != 1 || e.Usage.PromptTokens == 0 {
			t.Errorf("%+v", e)
		}
	})
	t.Run("tool round trip", func(t *testing.T) {
		// No tool-call parser is configured: tool_choice required takes the
		// call format from the chat template (ChatML, written as Hermes).
		tools := []openai.ChatCompletionToolParam{{Function: openai.FunctionDefinitionParam{
			Name: "get_weather", Description: openai.String("Weather in a city"),
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string", "maxLength": 12}}, "required": []string{"city"}},
		}}}
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather?")}
		c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: msgs, Tools: tools, MaxTokens: openai.Int(150), Seed: openai.Int(6),
			ToolChoice:        openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
			ParallelToolCalls: openai.Bool(false),
		})
		if err != nil {
			t.Fatal(err)
		}
		ch := c.Choices[0]
		if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
			t.Fatalf("finish %q, calls %+v", ch.FinishReason, ch.Message.ToolCalls)
		}
		call := ch.Message.ToolCalls[0]
		var args struct {
			City *string `json:"city"`
		}
		if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil || args.City == nil || call.Function.Name != "get_weather" || call.ID == "" {
			t.Fatalf("call %+v: %v", call, err)
		}
		msgs = append(msgs, ch.Message.ToParam(), openai.ToolMessage("sunny", call.ID))
		a, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: msgs, Tools: tools, MaxTokens: openai.Int(8),
			ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if a.Choices[0].Message.Content == "" || len(a.Choices[0].Message.ToolCalls) != 0 {
			t.Errorf("answer %+v", a.Choices[0].Message)
		}
	})
	t.Run("errors are typed", func(t *testing.T) {
		cases := []struct {
			name   string
			call   func() error
			status int
			param  string
		}{
			{"unknown model", func() error {
				_, err := client.Models.Get(ctx, "gpt-4")
				return err
			}, 404, "model"},
			{"bad temperature", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}, Temperature: openai.Float(3)})
				return err
			}, 400, "temperature"},
			{"n out of range", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}, N: openai.Int(100)})
				return err
			}, 400, "n"},
			{"tool_choice auto needs the server flags", func() error {
				_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
					Tools:    []openai.ChatCompletionToolParam{{Function: openai.FunctionDefinitionParam{Name: "f"}}}})
				return err
			}, 400, "tool_choice"},
			{"wrong key", func() error {
				_, err := client.Models.List(ctx, option.WithAPIKey("nope"))
				return err
			}, 401, ""},
		}
		for _, tc := range cases {
			err := tc.call()
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Errorf("%s: %v is not an *openai.Error", tc.name, err)
				continue
			}
			if apiErr.StatusCode != tc.status || apiErr.Param != tc.param || apiErr.Message == "" {
				t.Errorf("%s: status %d param %q message %q", tc.name, apiErr.StatusCode, apiErr.Param, apiErr.Message)
			}
		}
	})
}
