package server

import (
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/server/webui"
)

// TestWebUIRoutes: the chat page and its files are served without a key
// (the API itself still needs one), with their content types; a file the
// page does not have is a 404 in OpenAI's error shape.
func TestWebUIRoutes(t *testing.T) {
	env := newTestEnv(t, Options{APIKeys: []string{"k"}}, 0)
	cases := []struct {
		path, ctype, contains string
		status                int
	}{
		{"/", "text/html", "<title>kiln chat</title>", 200},
		{"/ui/index.html", "text/html", "/ui/app.js", 200},
		{"/ui/app.js", "javascript", "/v1/chat/completions", 200},
		{"/ui/markdown.js", "javascript", "function renderMarkdown", 200},
		{"/ui/style.css", "text/css", "#messages", 200},
		{"/ui/secret.txt", "application/json", "not_found", 404},
		{"/ui/..%2fwebui.go", "application/json", "not_found", 404},
		{"/v1/models", "application/json", "authentication_error", 401},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, b := env.do(t, "GET", tc.path, "")
			if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.contains) {
				t.Fatalf("%d %q, want %d %q containing %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype, tc.contains, b)
			}
		})
	}
	// Every file the page references is one the server has.
	_, page := env.do(t, "GET", "/", "")
	for _, name := range webui.Names() {
		if name != webui.Index && !strings.Contains(string(page), "/ui/"+name) {
			t.Errorf("index.html does not reference %s", name)
		}
	}
}
