package server

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPICoversAPI: every API route (those behind the key) is in
// openapi.json with its method.
func TestOpenAPICoversAPI(t *testing.T) {
	env, _ := newScriptServer(t, Options{}, "x")
	_, b := env.do(t, "GET", "/openapi.json", "")
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:[a-z]+$|\+$`)
	for _, e := range env.srv.endpoints() {
		if e.open {
			continue
		}
		path := param.ReplaceAllString(e.path, "{id}")
		if _, ok := spec.Paths[path][strings.ToLower(e.method)]; !ok {
			t.Errorf("openapi.json lacks %s %s", e.method, path)
		}
	}
}
