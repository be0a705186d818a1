package chat

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorNamesTemplateAndProblem(t *testing.T) {
	tests := []struct{ name, src string }{
		{"unclosed-if", "{% for m in messages %}\n{{ m.content }}\n{% if x %}\n{% endfor %}"},
		{"bad-expression", "line one\n{{ messages[0]. }}"},
		{"unknown-tag", "{% frobnicate %}"},
		{"unterminated", "{{ 'abc "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.name, tt.src)
			if err == nil {
				t.Fatal("broken template parsed")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error does not name the template: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

func TestRaiseExceptionSurfacesMessage(t *testing.T) {
	for _, name := range []string{"gemma", "llama2", "mistral"} {
		t.Run(name, func(t *testing.T) {
			tpl, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tpl.Render(RenderOptions{Messages: []Message{
				{Role: "user", Content: "a"}, {Role: "user", Content: "b"}}})
			var re *RaiseError
			if !errors.As(err, &re) {
				t.Fatalf("want *RaiseError, got %T: %v", err, err)
			}
			if !strings.Contains(re.Message, "must alternate") {
				t.Errorf("message %q is not the template's", re.Message)
			}
			if !strings.Contains(err.Error(), re.Message) || !strings.Contains(err.Error(), name) {
				t.Errorf("error %q lacks the template name or message", err)
			}
		})
	}
}

type fakeMetadata map[string]string

func (m fakeMetadata) String(key string) (string, bool) { v, ok := m[key]; return v, ok }

func TestFromGGUF(t *testing.T) {
	if _, err := FromGGUF(fakeMetadata{}); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("absent template: got %v, want ErrNoTemplate", err)
	}
	if _, err := FromGGUF(fakeMetadata{TemplateKey: ""}); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("empty template: got %v, want ErrNoTemplate", err)
	}
	_, err := FromGGUF(fakeMetadata{TemplateKey: "{% if %}"})
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), TemplateKey) {
		t.Errorf("broken template: got %v", err)
	}
	tpl, err := FromGGUF(fakeMetadata{TemplateKey: "{{ messages[0].content }}\n"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tpl.Render(RenderOptions{Messages: []Message{{Role: "user", Content: "x"}}}); got != "x" {
		t.Errorf("got %q (the single trailing newline must be dropped)", got)
	}
}
