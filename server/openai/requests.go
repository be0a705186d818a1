// Package openai holds the OpenAI API's wire types as kiln speaks them:
// requests as they arrive (polymorphic fields kept raw so the server can
// name the offending param when one is malformed) and responses and stream
// chunks as the official SDKs parse them.
package openai

import (
	"encoding/json"
	"reflect"
)

// Sampling holds the parameters the completions and chat endpoints share.
// Pointers tell "absent or null" from a given zero.
type Sampling struct {
	Model               string             `json:"model"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	MinTokens           *int               `json:"min_tokens"`
	Temperature         *float64           `json:"temperature"`
	TopP                *float64           `json:"top_p"`
	TopK                *int               `json:"top_k"`
	MinP                *float64           `json:"min_p"`
	TypicalP            *float64           `json:"typical_p"`
	N                   *int               `json:"n"`
	BestOf              *int               `json:"best_of"`
	Stop                json.RawMessage    `json:"stop"`
	StopTokenIDs        TokenIDs           `json:"stop_token_ids"`
	Seed                *int64             `json:"seed"`
	PresencePenalty     *float64           `json:"presence_penalty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty"`
	RepetitionPenalty   *float64           `json:"repetition_penalty"`
	LogitBias           map[string]float64 `json:"logit_bias"`
	Stream              *bool              `json:"stream"`
	StreamOptions       *StreamOptions     `json:"stream_options"`
	User                *string            `json:"user"`
	IgnoreEOS           *bool              `json:"ignore_eos"`
	Priority            *int               `json:"priority"`

	// Parsed and validated, answered with a 400 until implemented.
	UseBeamSearch *bool           `json:"use_beam_search"`
	LengthPenalty *float64        `json:"length_penalty"`
	EarlyStopping json.RawMessage `json:"early_stopping"`

	// HF transformers' names, as the Chinese-LLaMA-Alpaca-2 demo server
	// takes them: num_beams is the beam width (> 1: beam search),
	// do_sample false means greedy decoding.
	NumBeams *int  `json:"num_beams"`
	DoSample *bool `json:"do_sample"`

	// Structured outputs: at most one of these constrains a request.
	ResponseFormat *ResponseFormat `json:"response_format"`
	// vLLM's extras: a JSON schema (object or string), a regular
	// expression, a list of strings.
	GuidedJSON    json.RawMessage `json:"guided_json"`
	GuidedRegex   json.RawMessage `json:"guided_regex"`
	GuidedChoice  json.RawMessage `json:"guided_choice"`
	GuidedGrammar json.RawMessage `json:"guided_grammar"`
	// llama.cpp's extra: a GBNF grammar.
	Grammar json.RawMessage `json:"grammar"`

	// Tool calling (chat only).
	Tools      []Tool          `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// StreamOptions is stream_options.
type StreamOptions struct {
	IncludeUsage *bool `json:"include_usage"`
}

// ResponseFormat is response_format.
type ResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema"`
}

// Tool is one entry of tools.
type Tool struct {
	Type     string        `json:"type"`
	Function *ToolFunction `json:"function"`
}

// ToolFunction is a tool's function declaration.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// CompletionRequest is POST /v1/completions.
type CompletionRequest struct {
	Sampling
	Prompt   json.RawMessage `json:"prompt"`
	Suffix   *string         `json:"suffix"`
	Logprobs *int            `json:"logprobs"`
	Echo     *bool           `json:"echo"`
}

// ChatRequest is POST /v1/chat/completions.
type ChatRequest struct {
	Sampling
	Messages          json.RawMessage `json:"messages"`
	Logprobs          *bool           `json:"logprobs"`
	TopLogprobs       *int            `json:"top_logprobs"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
	Thinking
}

// Thinking holds a reasoning model's settings (chat and Responses):
// variables for the chat template (vLLM's chat_template_kwargs, e.g.
// {"enable_thinking": false}) and the thinking budget, in tokens or as
// OpenAI's reasoning_effort.
type Thinking struct {
	ChatTemplateKwargs json.RawMessage `json:"chat_template_kwargs"`
	ReasoningEffort    *string         `json:"reasoning_effort"`
	MaxThinkingTokens  *int            `json:"max_thinking_tokens"`
}

// Message is one chat message; Content is a string, an array of content
// parts or null.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	// Message is an alias of Content (the Chinese-LLaMA-Alpaca-2 demo's
	// examples send {"role": "user", "message": "..."}).
	Message    json.RawMessage `json:"message"`
	Name       string          `json:"name"`
	ToolCalls  json.RawMessage `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

// MessageToolCall is one entry of an assistant message's tool_calls in
// the history; Arguments is the JSON text OpenAI sends.
type MessageToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function *struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// ContentPart is one element of a message's content array.
type ContentPart struct {
	Type string  `json:"type"`
	Text *string `json:"text"` // nil: absent or null, which a text part may not be
}

// TokenizeRequest is POST /tokenize: a prompt, or messages rendered with
// the chat template.
type TokenizeRequest struct {
	Model               string          `json:"model"`
	Prompt              *string         `json:"prompt"`
	Messages            json.RawMessage `json:"messages"`
	AddSpecialTokens    *bool           `json:"add_special_tokens"`
	AddGenerationPrompt *bool           `json:"add_generation_prompt"`
}

// DetokenizeRequest is POST /detokenize.
type DetokenizeRequest struct {
	Model  string   `json:"model"`
	Tokens TokenIDs `json:"tokens"`
}

// EmbeddingRequest is POST /v1/embeddings.
type EmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           *string         `json:"user"`
}

// InteractiveRequest is LMDeploy's POST /v1/chat/interactive.
type InteractiveRequest struct {
	Prompt            json.RawMessage `json:"prompt"`
	SessionID         *int64          `json:"session_id"`
	InteractiveMode   *bool           `json:"interactive_mode"`
	Stream            *bool           `json:"stream"`
	Stop              json.RawMessage `json:"stop"`
	RequestOutputLen  *int            `json:"request_output_len"`
	MinNewTokens      *int            `json:"min_new_tokens"`
	TopP              *float64        `json:"top_p"`
	TopK              *int            `json:"top_k"`
	MinP              *float64        `json:"min_p"`
	Temperature       *float64        `json:"temperature"`
	RepetitionPenalty *float64        `json:"repetition_penalty"`
	IgnoreEOS         *bool           `json:"ignore_eos"`
	Seed              *int64          `json:"seed"`
	Cancel            *bool           `json:"cancel"`
}

// TokenIDs is an array of token ids in which null is a type error (Go
// would decode it as id 0).
type TokenIDs []int32

// UnmarshalJSON implements json.Unmarshaler.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	var ids []*int32
	if err := json.Unmarshal(b, &ids); err != nil {
		return err
	}
	if ids == nil {
		*t = nil
		return nil
	}
	out := make(TokenIDs, len(ids))
	for i, id := range ids {
		if id == nil {
			return &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeFor[int32]()}
		}
		out[i] = *id
	}
	*t = out
	return nil
}
