package main

import (
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/engine/chat/reasoning"
	"github.com/kiln-llm/kiln/engine/chat/toolcall"
)

// TestToolCallParsersInSync keeps the names tool_call_parser accepts (in
// configs, which imports nothing of ours) equal to the parsers there are.
func TestToolCallParsersInSync(t *testing.T) {
	if got, want := slices.Sorted(slices.Values(configs.ToolCallParsers)), toolcall.Names(); !slices.Equal(got, want) {
		t.Errorf("configs.ToolCallParsers %v, toolcall.Names %v", got, want)
	}
}

// TestReasoningParsersInSync keeps the names reasoning_parser accepts equal
// to the reasoning parsers there are.
func TestReasoningParsersInSync(t *testing.T) {
	if got, want := slices.Sorted(slices.Values(configs.ReasoningParsers)), reasoning.Names(); !slices.Equal(got, want) {
		t.Errorf("configs.ReasoningParsers %v, reasoning.Names %v", got, want)
	}
}
