package grammar

import (
	"fmt"
	"strings"
	"testing"
)

// TestSchemaKeywords checks, keyword by keyword, texts the compiled schema
// must accept and texts it must refuse.
func TestSchemaKeywords(t *testing.T) {
	for _, tc := range []struct {
		schema  string
		yes, no []string
	}{
		{`{"type":"integer","minimum":0,"maximum":130}`, []string{"0", "7", "99", "130", "100"}, []string{"-1", "131", "200", "00", "1000"}},
		{`{"type":"integer","exclusiveMinimum":-5,"maximum":12}`, []string{"-4", "0", "12"}, []string{"-5", "13", "-0"}},
		{`{"type":"number","minimum":0,"maximum":1}`, []string{"0", "1", "0.5", "0.123"}, []string{"1.5", "-0.1", "2"}},
		{`{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}`, []string{"0.5", "0.001"}, []string{"0", "1", "0.0", "0.00"}},
		{`{"type":"integer","multipleOf":7}`, []string{"0", "7", "-14", "700"}, []string{"1", "8", "-15"}},
		{`{"type":"integer","multipleOf":5,"minimum":0,"maximum":20}`, []string{"0", "5", "20"}, []string{"25", "3"}},
		{`{"type":"string","pattern":"^\\d{3}-x$"}`, []string{`"123-x"`}, []string{`"12-x"`, `"a123-x"`}},
		{`{"type":"string","pattern":"ab"}`, []string{`"ab"`, `"xxabyy"`, `"\"ab"`}, []string{`"a"`}},
		{`{"type":"string","pattern":"^a\"b$"}`, []string{`"a\"b"`}, []string{`"a"b"`}},
		{`{"type":"string","format":"date"}`, []string{`"2024-02-29"`, `"2023-12-31"`}, []string{`"2023-02-29"`, `"2023-04-31"`}},
		{`{"type":"string","format":"date-time"}`, []string{`"2024-02-29T12:00:00Z"`, `"2024-02-29T12:00:00.5+01:00"`}, []string{`"2024-02-29 12:00:00Z"`}},
		{`{"type":"string","format":"email"}`, []string{`"a.b@example.com"`}, []string{`"a..b@x.com"`, `"@x"`}},
		{`{"type":"string","format":"uuid"}`, []string{`"123e4567-e89b-12d3-a456-426614174000"`}, []string{`"123"`}},
		{`{"type":"string","format":"uri","minLength":1,"maxLength":2083}`, []string{`"https://example.com/a/b?x=1#f"`}, []string{`"example"`}},
		{`{"type":"string","format":"ipv6"}`, []string{`"::1"`, `"fe80::1:2"`, `"1:2:3:4:5:6:7:8"`}, []string{`"1:2"`}},
		{`{"type":"string","format":"duration"}`, []string{`"P3D"`, `"PT1H30M"`, `"P1W"`}, []string{`"P"`, `"PT"`, `"P1D2Y"`}},
		{`{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"string"}}}]}`, []string{`{"a":1}`, `{"a":1,"b":"x"}`}, []string{`{"b":"x"}`}},
		{`{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"boolean"}}`, []string{`{"a":1,"x":true}`, `{"x":true}`, `{}`}, []string{`{"a":true}`, `{"x":1}`}},
		{`{"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],"minItems":2,"maxItems":2}`, []string{`[1,"a"]`}, []string{`[1]`, `[1,"a",2]`}},
		{`{"type":"array","prefixItems":[{"type":"integer"}],"items":{"type":"string"}}`, []string{`[]`, `[1]`, `[1,"a","b"]`}, []string{`["a"]`}},
		{`{"type":"array","items":{"enum":["a","b","c"]},"uniqueItems":true,"minItems":1}`, []string{`["a"]`, `["a","c"]`, `["b","c"]`}, []string{`[]`, `["a","a"]`}},
		{`{"type":"object","patternProperties":{"^x_":{"type":"integer"}}}`, []string{`{}`, `{"x_a":1}`}, []string{`{"y":1}`}},
		{`{"$ref":"#/$defs/a","description":"d","$defs":{"a":{"type":"integer","minimum":3}}}`, []string{`3`}, []string{`2`}},
		{`{"type":"object","additionalProperties":{"type":"integer"},"propertyNames":{"enum":["a","b",1]}}`, []string{`{}`, `{"a":1,"b":2}`}, []string{`{"c":1}`, `{1:1}`}},
		{`{"type":"object","propertyNames":{"pattern":"^x"}}`, []string{`{"xy":true}`}, []string{`{"y":1}`}},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			g, err := CompileSchema([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, y := range tc.yes {
				if !g.Match([]byte(y)) {
					t.Errorf("rejects %s", y)
				}
			}
			for _, n := range tc.no {
				if g.Match([]byte(n)) {
					t.Errorf("accepts %s", n)
				}
			}
		})
	}
}

// TestSchemaSoundness covers combinations where a keyword beside another
// must still hold.
func TestSchemaSoundness(t *testing.T) {
	for _, tc := range []struct {
		schema  string
		yes, no []string
	}{
		{`{"required":["a"]}`, []string{`{"a":1}`}, []string{`{}`, `{"b":1}`}},
		{`{"allOf":[{"properties":{"a":{}},"additionalProperties":{"type":"integer"}},{"properties":{"b":{"type":"number"}}}]}`, []string{`{"b":1}`}, []string{`{"b":1.5}`}},
		{`{"type":"string","enum":["a",1,null]}`, []string{`"a"`}, []string{`1`, `null`}},
		{`{"type":["integer","null"],"enum":[1,1.5,null,"x"]}`, []string{`1`, `null`}, []string{`1.5`, `"x"`}},
		{`{"anyOf":[{"type":"integer"},{"type":"string"}],"minimum":5}`, []string{`5`, `"a"`}, []string{`4`}},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			g, err := CompileSchema([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, y := range tc.yes {
				if !g.Match([]byte(y)) {
					t.Errorf("rejects %s", y)
				}
			}
			for _, n := range tc.no {
				if g.Match([]byte(n)) {
					t.Errorf("accepts %s", n)
				}
			}
		})
	}
}

// TestOtherKey: extra members never repeat a known key, however spelled.
func TestOtherKey(t *testing.T) {
	g, err := CompileSchema([]byte(`{"type":"object","properties":{"a":{"type":"string"},"ab":{"type":"string"},"é":{"type":"string"},"q\"x":{"type":"string"}},"additionalProperties":{"type":"integer"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]bool{
		`{"a":"s","abc":1}`: true, `{"b":1}`: true, `{"":1}`: true, `{"ax":1,"éx":2}`: true, `{"\u00e9x":2}`: false, `{"q":1}`: true,
		// Known keys take strings: a known key among the extras would be an
		// integer. An escape on the trie is never written.
		`{"a":"s","a":1}`: false, `{"ab":1}`: false, `{"é":1}`: false, `{"\u00e9":1}`: false, `{"q\"x":1}`: false,
		`{"\u0061":1}`: false, `{"a\u0062":1}`: false, `{"x\"":1}`: true,
	} {
		if got := g.Match([]byte(text)); got != want {
			t.Errorf("%s: match %v, want %v", text, got, want)
		}
	}
}

// TestPatternRulesShared: a format used by many properties is built once,
// so a schema of 100 uri properties costs about what one does.
func TestPatternRulesShared(t *testing.T) {
	one, err := CompileSchema([]byte(`{"type":"object","properties":{"u":{"type":"string","format":"uri"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(`{"type":"object","properties":{`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"u%d":{"type":"string","format":"uri","maxLength":%d}`, i, 2000+i)
	}
	sb.WriteString(`}}`)
	many, err := CompileSchema([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if many.Size() > 2*one.Size() {
		t.Errorf("100 uri properties take %d bytes, one %d", many.Size(), one.Size())
	}
}
