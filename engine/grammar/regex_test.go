package grammar

import "testing"

func TestRegex(t *testing.T) {
	tests := []struct {
		pattern        string
		accept, reject []string
	}{
		{`^\d{3}-\d{4}$`, []string{"555-1234"}, []string{"55-1234", "555-12345", "abc-defg"}},
		{`(cat|dog)s?`, []string{"cat", "dogs"}, []string{"cats!", "bird", ""}},
		{`[A-Z][a-z]*`, []string{"A", "Hello"}, []string{"hello", "HeLlo"}},
		{`[^0-9]+`, []string{"abc", "é!"}, []string{"a1", ""}},
		{`a.c`, []string{"abc", "a日c"}, []string{"a\nc", "ac"}},
		{`(?:ab){2,}x\.`, []string{"ababx.", "abababx."}, []string{"abx.", "ababxx"}},
		{`\w+@\w+\.com`, []string{"a_1@b.com"}, []string{"a@b.org"}},
		{`x{0,2}`, []string{"", "x", "xx"}, []string{"xxx"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			g, err := Regex(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.accept {
				if !g.Match([]byte(s)) {
					t.Errorf("rejects %q", s)
				}
			}
			for _, s := range tt.reject {
				if g.Match([]byte(s)) {
					t.Errorf("accepts %q", s)
				}
			}
		})
	}
	for _, bad := range []string{`(a`, `a)`, `*a`, `a{2,1}`, `(?=a)`, `\1`, `[é]`, `a*?`, `[a`, `a^b`, `\p{L}`} {
		if _, err := Regex(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

func TestRegexHexEscapes(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		yes, no []string
	}{
		{`\u00e9t\x41`, []string{"étA"}, []string{"etA"}},
		{`[\u0041-\u005A]+`, []string{"ABZ"}, []string{"a"}},
		{`[\x30-9]`, []string{"0", "9"}, []string{"a"}},
	} {
		g, err := Regex(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		for _, y := range tc.yes {
			if !g.Match([]byte(y)) {
				t.Errorf("%s rejects %q", tc.pattern, y)
			}
		}
		for _, n := range tc.no {
			if g.Match([]byte(n)) {
				t.Errorf("%s accepts %q", tc.pattern, n)
			}
		}
	}
}
