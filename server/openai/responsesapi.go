package openai

import "encoding/json"

// ResponseRequest is POST /v1/responses (the Responses API). Fields kiln
// does not act on are kept so that they are accepted or refused by name.
type ResponseRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"` // a string or an array of items
	Instructions       *string         `json:"instructions"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
	Text               *ResponseText   `json:"text"`
	Stream             *bool           `json:"stream"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Store              *bool           `json:"store"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
	Seed               *int64          `json:"seed"`
	Reasoning          *struct {
		Effort *string `json:"effort"`
	} `json:"reasoning"`
	Metadata     json.RawMessage `json:"metadata"`
	User         *string         `json:"user"`
	Truncation   *string         `json:"truncation"`
	Include      json.RawMessage `json:"include"`
	Background   *bool           `json:"background"`
	Conversation json.RawMessage `json:"conversation"`
	Prompt       json.RawMessage `json:"prompt"`
	Thinking
}

// ResponseText is text: the output's format.
type ResponseText struct {
	Format *ResponseTextFormat `json:"format"`
}

// ResponseTextFormat is text.format: text, json_object, or json_schema
// with its name, schema and strict flag inline.
type ResponseTextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	Description string          `json:"description,omitempty"`
}

// ResponseTool is a function tool, flat (name and parameters at the top).
type ResponseTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ResponseInputItem is one item of input: a message (type "message" or
// absent), a function_call of an earlier answer, a function_call_output,
// or an earlier answer's reasoning (ignored).
type ResponseInputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"` // a string or content parts
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments *string         `json:"arguments"`
	Output    json.RawMessage `json:"output"` // a string or content parts
	ID        string          `json:"id"`
}

// ResponseContentPart is a part of a message's content: input_text,
// output_text (an earlier answer's), input_image, input_file, refusal.
type ResponseContentPart struct {
	Type string  `json:"type"`
	Text *string `json:"text"`
}

// Response is a response object (object "response").
type Response struct {
	ID                 string             `json:"id"`
	Object             string             `json:"object"`
	CreatedAt          int64              `json:"created_at"`
	Status             string             `json:"status"` // in_progress, completed, incomplete, failed
	Error              *ResponseError     `json:"error"`
	IncompleteDetails  *IncompleteDetails `json:"incomplete_details"`
	Instructions       *string            `json:"instructions"`
	MaxOutputTokens    *int               `json:"max_output_tokens"`
	Model              string             `json:"model"`
	Output             []ResponseItem     `json:"output"`
	OutputText         string             `json:"output_text,omitempty"` // the SDKs compute it when absent
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Store              bool               `json:"store"`
	Temperature        *float64           `json:"temperature"`
	TopP               *float64           `json:"top_p"`
	ToolChoice         json.RawMessage    `json:"tool_choice"`
	Tools              []json.RawMessage  `json:"tools"`
	Text               *ResponseText      `json:"text,omitempty"`
	Metadata           json.RawMessage    `json:"metadata"`
	Usage              *ResponseUsage     `json:"usage"`
	Reasoning          *ResponseReasoning `json:"reasoning,omitempty"`
	Truncation         string             `json:"truncation"`
	User               *string            `json:"user,omitempty"`
	CompletedAt        *int64             `json:"completed_at,omitempty"`
	Background         bool               `json:"background"`
	ServiceTier        string             `json:"service_tier,omitempty"`
	PromptCacheKey     *string            `json:"prompt_cache_key,omitempty"`
	Conversation       json.RawMessage    `json:"conversation,omitempty"`
}

// ResponseReasoning echoes the request's reasoning settings.
type ResponseReasoning struct {
	Effort *string `json:"effort"`
}

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete (max_output_tokens).
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// ResponseItem is an output item: a message, a function_call or a
// reasoning item.
type ResponseItem struct {
	ID        string                `json:"id"`
	Type      string                `json:"type"`
	Status    string                `json:"status,omitempty"`
	Role      string                `json:"role,omitempty"`
	Content   *[]ResponseOutputPart `json:"content,omitempty"` // [] when empty, for a message
	CallID    string                `json:"call_id,omitempty"`
	Name      string                `json:"name,omitempty"`
	Arguments *string               `json:"arguments,omitempty"`
	Summary   *[]ResponseOutputPart `json:"summary,omitempty"`
}

// ResponseOutputPart is a part of an output item's content: output_text
// (with annotations) of a message, reasoning_text of a reasoning item.
type ResponseOutputPart struct {
	Type        string             `json:"type"`
	Text        string             `json:"text"`
	Annotations *[]json.RawMessage `json:"annotations,omitempty"`
	Logprobs    *[]json.RawMessage `json:"logprobs,omitempty"`
}

// ResponseUsage counts a response's tokens.
type ResponseUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// ResponseDeleted answers DELETE /v1/responses/{id}.
type ResponseDeleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // response.deleted
	Deleted bool   `json:"deleted"`
}

// ResponseEvent is one event of a Responses stream: Type names it (and is
// the SSE event name); the other fields are set as the type needs.
type ResponseEvent struct {
	Type           string              `json:"type"`
	SequenceNumber int                 `json:"sequence_number"`
	Response       *Response           `json:"response,omitempty"`
	OutputIndex    *int                `json:"output_index,omitempty"`
	ContentIndex   *int                `json:"content_index,omitempty"`
	ItemID         string              `json:"item_id,omitempty"`
	Item           *ResponseItem       `json:"item,omitempty"`
	Part           *ResponseOutputPart `json:"part,omitempty"`
	Delta          *string             `json:"delta,omitempty"`
	Text           *string             `json:"text,omitempty"`
	Arguments      *string             `json:"arguments,omitempty"`
	Name           string              `json:"name,omitempty"`
	Logprobs       *[]json.RawMessage  `json:"logprobs,omitempty"`
	// An error event's fields.
	Code    *string `json:"code,omitempty"`
	Message string  `json:"message,omitempty"`
	Param   *string `json:"param,omitempty"`
}
