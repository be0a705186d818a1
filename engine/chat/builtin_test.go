package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestBuiltinPlainConversation(t *testing.T) {
	withSystem := []Message{
		{Role: "system", Content: "You are helpful."},
		{Role: "user", Content: "Hello"},
		{Role: "assistant", Content: "Hi there!"},
		{Role: "user", Content: "How are you?"},
	}
	noSystem := withSystem[1:]
	tests := []struct {
		name, bos, eos string
		msgs           []Message
		want           string
	}{
		{"chatml", "", "", withSystem, "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n"},
		{"qwen2", "", "", noSystem, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n"},
		{"llama2", "<s>", "</s>", withSystem, "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello [/INST] Hi there! </s><s>[INST] How are you? [/INST]"},
		{"llama3", "<|begin_of_text|>", "<|eot_id|>", withSystem, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"mistral", "<s>", "</s>", withSystem, "<s> [INST] You are helpful.\n\nHello [/INST] Hi there!</s> [INST] How are you? [/INST]"},
		{"phi3", "<s>", "<|endoftext|>", withSystem, "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there!<|end|>\n<|user|>\nHow are you?<|end|>\n<|assistant|>\n"},
		{"gemma", "<bos>", "<eos>", noSystem, "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there!<end_of_turn>\n<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Builtin(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpl.Render(RenderOptions{Messages: tt.msgs, AddGenerationPrompt: true, BOSToken: tt.bos, EOSToken: tt.eos})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
	for _, n := range BuiltinNames() {
		if !seen[n] {
			t.Errorf("built-in %q has no test", n)
		}
	}
	if _, err := Builtin("nope"); err == nil {
		t.Error("unknown built-in name accepted")
	}
}

// TestBuiltinMatchesLlamaCpp compares the chatml and llama3 built-ins with
// llama.cpp's own non-Jinja formats recorded in the references
// (llamacpp_builtin_prompt; llama.cpp adds no BOS there).
func TestBuiltinMatchesLlamaCpp(t *testing.T) {
	for _, ref := range []struct{ jsonl, builtin string }{
		{"chat-chatml.jsonl", "chatml"},
		{"chat-smollm2.jsonl", "chatml"},
		{"chat-llama32.jsonl", "llama3"},
	} {
		tpl, err := Builtin(ref.builtin)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(sharedDir, "testdata", ref.jsonl)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Skipf("reference data not available: %v", err)
		}
		cases := readRefCases(t, path)
		type builtinPrompt struct {
			Prompt *string `json:"llamacpp_builtin_prompt"`
		}
		var builtins []builtinPrompt
		for _, line := range splitLines(raw) {
			var b builtinPrompt
			if err := json.Unmarshal(line, &b); err != nil {
				t.Fatal(err)
			}
			builtins = append(builtins, b)
		}
		for i, c := range cases {
			if builtins[i].Prompt == nil {
				continue
			}
			t.Run(ref.jsonl+"/"+c.Name, func(t *testing.T) {
				opts := c.renderOptions(t)
				opts.BOSToken = ""
				got, err := tpl.Render(opts)
				if err != nil {
					t.Fatal(err)
				}
				if got != *builtins[i].Prompt {
					t.Fatalf("\n got: %q\nwant: %q", got, *builtins[i].Prompt)
				}
			})
		}
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
