package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
)

// plainTemplate renders "ROLE: content" lines; fail makes it error.
type plainTemplate struct{ fail bool }

func (p plainTemplate) Render(msgs []chat.Message, _ []json.RawMessage, addGen bool) (string, error) {
	if p.fail {
		return "", errors.New("roles must alternate")
	}
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s: %s\n", strings.ToUpper(m.Role), m.Content)
	}
	if addGen {
		b.WriteString("ASSISTANT:")
	}
	return b.String(), nil
}

func (plainTemplate) EndOfTurn() string  { return "\nUSER:" }
func (plainTemplate) ToolFormat() string { return "" }
func (plainTemplate) BOS() string        { return "" }

func TestChatTemplate(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	msgs := `[{"role":"user","content":"Once"}]`

	_, b := env.do(t, "POST", "/tokenize", `{"messages":`+msgs+`}`)
	var got struct{ Tokens []int32 }
	_ = json.Unmarshal(b, &got)
	want := env.model.Tokenizer.Encode("<|im_start|>user\nOnce<|im_end|>\n<|im_start|>assistant\n", true, true)
	if fmt.Sprint(got.Tokens) != fmt.Sprint(want) {
		t.Errorf("ChatML prompt %v, want %v", got.Tokens, want)
	}

	env.model.ChatTemplate = plainTemplate{}
	_, b = env.do(t, "POST", "/tokenize", `{"messages":`+msgs+`}`)
	_ = json.Unmarshal(b, &got)
	want = env.model.Tokenizer.Encode("USER: Once\nASSISTANT:", true, true)
	if fmt.Sprint(got.Tokens) != fmt.Sprint(want) {
		t.Errorf("custom prompt %v, want %v", got.Tokens, want)
	}
	var r control.Request
	env.model.endOfTurn(&r, plainTemplate{})
	if len(r.StopStrings) != 1 || r.StopStrings[0] != "\nUSER:" {
		t.Errorf("end of turn %+v", r)
	}
	if resp, b := env.do(t, "POST", "/v1/chat/completions", `{"messages":`+msgs+`,"max_tokens":2}`); resp.StatusCode != 200 {
		t.Errorf("%d %s", resp.StatusCode, b)
	}

	env.model.ChatTemplate = plainTemplate{fail: true}
	for _, path := range []string{"/v1/chat/completions", "/tokenize"} {
		resp, b := env.do(t, "POST", path, `{"messages":`+msgs+`}`)
		if resp.StatusCode != 400 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if _, _, param, _ := apiError(t, b); param == nil || *param != "messages" {
			t.Errorf("%s: param %v", path, param)
		}
	}
	waitIdle(t, env.engine)
}
