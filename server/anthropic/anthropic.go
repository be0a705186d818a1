// Package anthropic holds the wire types of Anthropic's Messages API as
// kiln speaks them (POST /v1/messages and /v1/messages/count_tokens):
// requests as they arrive, polymorphic fields kept raw so that the server
// can name a malformed one, and responses and stream events as the
// official SDKs parse them.
package anthropic

import "encoding/json"

// MessagesRequest is POST /v1/messages (and, without the generation
// fields, /v1/messages/count_tokens).
type MessagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	System        json.RawMessage `json:"system"`   // a string or text blocks
	Messages      json.RawMessage `json:"messages"` // [{role, content}]
	Tools         json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage `json:"tool_choice"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        *bool           `json:"stream"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *int            `json:"top_k"`
	Metadata      json.RawMessage `json:"metadata"`
	Thinking      json.RawMessage `json:"thinking"` // {type: enabled, budget_tokens} or {type: disabled}
	ServiceTier   json.RawMessage `json:"service_tier"`
}

// MessageParam is one entry of messages; Content is a string or blocks.
type MessageParam struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// ContentBlockParam is a block of a message's content: text, tool_use (in
// assistant turns), tool_result (in user turns), thinking (an earlier
// answer's, ignored), image and document (not supported).
type ContentBlockParam struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // of a tool_result: a string or text blocks
	IsError   *bool           `json:"is_error"`
	Thinking  *string         `json:"thinking"`
}

// Tool is a client tool: its input is described by a JSON schema.
type Tool struct {
	Type        string          `json:"type"` // "custom" or absent
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// ToolChoice is tool_choice.
type ToolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use"`
}

// Message is a complete answer (type "message").
type Message struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// ContentBlock is a block of an answer: text, thinking or tool_use.
type ContentBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// Usage counts a message's tokens; cache reads are prompt tokens whose
// K/V came from the prefix cache.
type Usage struct {
	InputTokens              int  `json:"input_tokens"`
	OutputTokens             int  `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
}

// TokensCount answers POST /v1/messages/count_tokens.
type TokensCount struct {
	InputTokens int `json:"input_tokens"`
}

// Stream events, each sent as `event: <type>` with the JSON as data.

// MessageStart opens a stream with the message, content empty.
type MessageStart struct {
	Type    string  `json:"type"` // message_start
	Message Message `json:"message"`
}

// ContentBlockStart opens block Index.
type ContentBlockStart struct {
	Type         string       `json:"type"` // content_block_start
	Index        int          `json:"index"`
	ContentBlock ContentBlock `json:"content_block"`
}

// ContentBlockDelta adds to block Index.
type ContentBlockDelta struct {
	Type  string `json:"type"` // content_block_delta
	Index int    `json:"index"`
	Delta Delta  `json:"delta"`
}

// Delta is a text_delta, thinking_delta or input_json_delta.
type Delta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

// ContentBlockStop closes block Index.
type ContentBlockStop struct {
	Type  string `json:"type"` // content_block_stop
	Index int    `json:"index"`
}

// MessageDelta carries the stop reason and the final usage.
type MessageDelta struct {
	Type  string         `json:"type"` // message_delta
	Delta MessageOutcome `json:"delta"`
	Usage Usage          `json:"usage"`
}

// MessageOutcome is a MessageDelta's delta.
type MessageOutcome struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// Event is an event without fields beyond its type (message_stop, ping).
type Event struct {
	Type string `json:"type"`
}

// Error is the body of every error: {"type": "error", "error": {...}}.
type Error struct {
	Type  string    `json:"type"` // error
	Error ErrorBody `json:"error"`
}

// ErrorBody is Anthropic's error object: invalid_request_error,
// authentication_error, not_found_error, request_too_large,
// rate_limit_error, api_error or overloaded_error.
type ErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
