package grammar

import "testing"

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
