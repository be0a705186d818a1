package grammar

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

var (
	maskerMu    sync.Mutex
	maskerCache = map[string]*Masker{}
)

// sharedMasker returns (once per test binary) the Masker of a GGUF in the
// project's shared data directory, or skips when the file is absent.
func sharedMasker(tb testing.TB, rel string) (*Masker, *tokenizer.Tokenizer) {
	tb.Helper()
	path := filepath.Join("..", "..", "..", "shared", rel)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("shared test data not available: %v", err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		tb.Fatalf("tokenizer %s: %v", path, err)
	}
	maskerMu.Lock()
	defer maskerMu.Unlock()
	if m, ok := maskerCache[path]; ok {
		return m, tok
	}
	m := NewMasker(tok)
	maskerCache[path] = m
	return m, tok
}

// validate checks a decoded JSON value against the schema subset the
// compiler supports; it is independent of the compiler so that the two
// cannot share a mistake.
func validate(v, schema any, root map[string]any) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return nil // true or {}
	}
	if r, ok := s["$ref"].(string); ok {
		var sec, name string
		fmt.Sscanf(r, "#/%s", &sec)
		for _, p := range []string{"$defs/", "definitions/"} {
			if len(sec) > len(p) && sec[:len(p)] == p {
				name = sec[len(p):]
				sec = p[:len(p)-1]
			}
		}
		return validate(v, root[sec].(map[string]any)[name], root)
	}
	if c, ok := s["const"]; ok && !jsonEqual(v, c) {
		return fmt.Errorf("%v is not the const %v", v, c)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			found = found || jsonEqual(v, x)
		}
		if !found {
			return fmt.Errorf("%v not in enum", v)
		}
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if subs, ok := s[k].([]any); ok {
			n := 0
			for _, sub := range subs {
				if validate(v, sub, root) == nil {
					n++
				}
			}
			if n == 0 {
				return fmt.Errorf("%v matches no branch of %s", v, k)
			}
		}
	}
	if t, ok := s["type"].(string); ok {
		if err := checkType(v, t); err != nil {
			return err
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					return fmt.Errorf("missing required %q", r)
				}
			}
		}
		for k, val := range x {
			ps, ok := props[k]
			if !ok && props != nil {
				return fmt.Errorf("unexpected property %q", k)
			}
			if !ok {
				ps = s["additionalProperties"]
			}
			if err := validate(val, ps, root); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	case string:
		n := float64(utf8.RuneCountInString(x))
		if m, ok := s["minLength"].(float64); ok && n < m {
			return fmt.Errorf("%q shorter than minLength %v", x, m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			return fmt.Errorf("%q longer than maxLength %v", x, m)
		}
	case []any:
		if n, ok := s["minItems"].(float64); ok && float64(len(x)) < n {
			return fmt.Errorf("%d items < minItems %v", len(x), n)
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(x)) > n {
			return fmt.Errorf("%d items > maxItems %v", len(x), n)
		}
		for i, it := range x {
			if err := validate(it, s["items"], root); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	}
	return nil
}

func checkType(v any, t string) error {
	ok := false
	switch t {
	case "object":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	case "string":
		_, ok = v.(string)
	case "number":
		_, ok = v.(float64)
	case "integer":
		f, isNum := v.(float64)
		ok = isNum && f == math.Trunc(f)
	case "boolean":
		_, ok = v.(bool)
	case "null":
		ok = v == nil
	}
	if !ok {
		return fmt.Errorf("%v is not of type %s", v, t)
	}
	return nil
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
