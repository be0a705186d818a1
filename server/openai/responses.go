package openai

// Error is the body of every error response: {"error": {...}}.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is OpenAI's error object; Param and Code are null when unset.
type ErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Usage counts a response's tokens.
type Usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
	// CompletionTokensDetails is set when speculative decoding verified
	// draft tokens for the response.
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// CompletionTokensDetails counts speculative draft tokens the model kept
// (they are completion tokens too) and dropped, in OpenAI's names.
type CompletionTokensDetails struct {
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

// PromptTokensDetails says how many prompt tokens came from the cache.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID          string `json:"id"`
	Object      string `json:"object"` // "model"
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Root        string `json:"root,omitempty"`
	MaxModelLen int    `json:"max_model_len,omitempty"`
}

// ModelList is GET /v1/models.
type ModelList struct {
	Object string  `json:"object"` // "list"
	Data   []Model `json:"data"`
}

// Completion is a /v1/completions response or stream chunk (object
// "text_completion" in both, as OpenAI sends it).
type Completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint,omitempty"`
	Choices           []CompletionChoice `json:"choices"`
	Usage             *Usage             `json:"usage,omitempty"`
}

// CompletionChoice is one choice of a Completion; FinishReason is null
// until the last chunk.
type CompletionChoice struct {
	Index        int                 `json:"index"`
	Text         string              `json:"text"`
	Logprobs     *CompletionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

// CompletionLogprobs is the legacy completions logprobs object.
type CompletionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float32            `json:"token_logprobs"`
	TopLogprobs   []map[string]float32 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// ChatCompletion is a /v1/chat/completions response (object
// "chat.completion") or stream chunk ("chat.completion.chunk").
type ChatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
	Choices           []ChatChoice `json:"choices"`
	// Usage is null in stream chunks when include_usage is set, except in
	// the last one; omitted otherwise.
	Usage *Usage `json:"usage,omitempty"`
}

// ChatChoice is one choice: Message in a response, Delta in a chunk.
type ChatChoice struct {
	Index        int           `json:"index"`
	Message      *ReplyMessage `json:"message,omitempty"`
	Delta        *ChatMessage  `json:"delta,omitempty"`
	Logprobs     *ChatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

// ReplyMessage is a generated message in a complete response. Content is
// null (not absent) when the message only calls tools, as OpenAI sends it.
type ReplyMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ReasoningContent is a reasoning model's thinking (with a reasoning
	// parser); Reasoning carries the same text under vLLM's newer name.
	ReasoningContent *string `json:"reasoning_content,omitempty"`
	Reasoning        *string `json:"reasoning,omitempty"`
}

// ToolCall is one call of a tool in a response.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function; Arguments is a JSON object as text.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ChatMessage is a delta of a generated message in a stream chunk.
type ChatMessage struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
	// ReasoningContent and Reasoning are a piece of the thinking.
	ReasoningContent *string `json:"reasoning_content,omitempty"`
	Reasoning        *string `json:"reasoning,omitempty"`
}

// ToolCallDelta is a piece of a streamed tool call: the first for a call
// carries its index, id, type and name (arguments ""), the next ones the
// index and argument fragments, as OpenAI streams them.
type ToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function FunctionCallDelta `json:"function"`
}

// FunctionCallDelta is the function part of a ToolCallDelta.
type FunctionCallDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ChatLogprobs is a choice's logprobs: one entry per generated token.
type ChatLogprobs struct {
	Content []ChatTokenLogprob `json:"content"`
}

// ChatTokenLogprob is one generated token's logprob with alternatives.
type ChatTokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float32      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs"`
}

// TopLogprob is one alternative token.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float32 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// TokenizeResponse answers POST /tokenize.
type TokenizeResponse struct {
	Count       int     `json:"count"`
	MaxModelLen int     `json:"max_model_len"`
	Tokens      []int32 `json:"tokens"`
}

// DetokenizeResponse answers POST /detokenize.
type DetokenizeResponse struct {
	Prompt string `json:"prompt"`
}

// InteractiveResponse is LMDeploy's /v1/chat/interactive answer (and each
// line of its stream).
type InteractiveResponse struct {
	Text          string  `json:"text"`
	Tokens        int     `json:"tokens"`
	InputTokens   int     `json:"input_tokens"`
	HistoryTokens int     `json:"history_tokens"`
	FinishReason  *string `json:"finish_reason"`
}

// EmbeddingList answers POST /v1/embeddings.
type EmbeddingList struct {
	Object string      `json:"object"` // "list"
	Data   []Embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  Usage       `json:"usage"`
}

// Embedding is one input's vector: a float array, or a base64 string of
// little-endian float32s when encoding_format is base64.
type Embedding struct {
	Object    string `json:"object"` // "embedding"
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}
