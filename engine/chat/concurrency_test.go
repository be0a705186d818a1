package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentRender: a Template is shared by all requests of a server.
func TestConcurrentRender(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(sharedDir, "templates", "meta-llama-Llama-3.1-8B-Instruct.jinja"))
	if err != nil {
		t.Skip(err)
	}
	tpl, err := Parse("llama31", string(src))
	if err != nil {
		t.Fatal(err)
	}
	tool := json.RawMessage(`{"type":"function","function":{"name":"f","parameters":{"z":1,"a":2}}}`)
	opts := RenderOptions{Messages: []Message{{Role: "user", Content: "hi"}}, Tools: []any{tool},
		ExtraVars: map[string]any{"date_string": "1 Jan 2025"}}
	want, err := tpl.Render(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(want, `"z": 1,`) || strings.Index(want, `"z"`) > strings.Index(want, `"a"`) {
		t.Fatalf("tool keys not in the given order:\n%s", want)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if got, err := tpl.Render(opts); err != nil || got != want {
					t.Errorf("concurrent render differs: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestObjectArgumentsProbe pins which shared templates take tool call
// arguments as a dict (string arguments are decoded for them) and which as
// the JSON string.
func TestObjectArgumentsProbe(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedDir, "templates", "*.jinja"))
	if len(files) == 0 {
		t.Skip("templates not available")
	}
	var obj, str []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := Parse(filepath.Base(f), string(src))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".jinja")
		if tpl.ObjectArguments() {
			obj = append(obj, name)
		} else {
			str = append(str, name)
		}
	}
	sort.Strings(obj)
	sort.Strings(str)
	t.Logf("dict arguments: %s", strings.Join(obj, ", "))
	t.Logf("string arguments: %s", strings.Join(str, ", "))
	for _, want := range []string{"meta-llama-Llama-3.2-3B-Instruct", "Qwen-Qwen2.5-7B-Instruct", "NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "mistralai-Mistral-Nemo-Instruct-2407"} {
		if !contains(obj, want) {
			t.Errorf("%s should take dict arguments", want)
		}
	}
	for _, want := range []string{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "meetkai-functionary-medium-v3.1", "meetkai-functionary-medium-v3.2"} {
		if !contains(str, want) {
			t.Errorf("%s should take string arguments", want)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
