package grammar

import (
	"errors"
	"strings"
	"testing"
)

func TestSchemaErrors(t *testing.T) {
	tests := []struct {
		name, schema, keyword string
	}{
		{"pattern lookahead", `{"type":"string","pattern":"^(?=a)"}`, "pattern"},
		{"unknown format", `{"type":"string","format":"idn-email"}`, "format"},
		{"number range without a unit interval", `{"type":"number","minimum":0.1,"maximum":0.9}`, "minimum"},
		{"integer range empty", `{"type":"integer","minimum":5,"maximum":3}`, "minimum"},
		{"multipleOf of a number", `{"type":"number","multipleOf":0.01}`, "multipleOf"},
		{"multipleOf too large", `{"type":"integer","multipleOf":100000}`, "multipleOf"},
		{"multipleOf in a wide range", `{"type":"integer","multipleOf":3,"minimum":100,"maximum":100000}`, "multipleOf"},
		{"pattern longer than maxLength", `{"type":"string","pattern":"^a+$","maxLength":5}`, "maxLength"},
		{"uniqueItems of strings", `{"type":"array","items":{"type":"string"},"uniqueItems":true}`, "uniqueItems"},
		{"minProperties over required", `{"type":"object","properties":{"a":{}},"minProperties":1}`, "minProperties"},
		{"patternProperties beside properties", `{"type":"object","properties":{"a":{}},"patternProperties":{"x":{}}}`, "patternProperties"},
		{"not", `{"not":{"type":"string"}}`, "not"},
		{"allOf of different consts", `{"allOf":[{"const":1},{"const":2}]}`, "const"},
		{"maxLength below minLength", `{"type":"string","minLength":3,"maxLength":2}`, "maxLength"},
		{"minLength negative", `{"type":"string","minLength":-1}`, "minLength"},
		{"minimum nested", `{"type":"object","properties":{"a":{"type":"integer","minimum":1,"maximum":0}}}`, "minimum"},
		{"prefixItems not an array", `{"type":"array","prefixItems":{"type":"string"}}`, "prefixItems"},
		{"bad ref", `{"$ref":"http://x/y"}`, "$ref"},
		{"missing def", `{"$ref":"#/$defs/nope"}`, "$ref"},
		{"required unknown", `{"type":"object","properties":{"a":{}},"required":["b"]}`, "required"},
		{"empty enum", `{"enum":[]}`, "enum"},
		{"bad type", `{"type":"float"}`, "type"},
		{"max below min", `{"type":"array","minItems":3,"maxItems":2}`, "maxItems"},
		{"allOf", `{"allOf":[{"type":"string"},{"type":"number"}]}`, "allOf"},
		{"left recursion", `{"anyOf":[{"$ref":"#"},{"$ref":"#"},{"type":"null"}]}`, "$ref"},
		{"left recursion via defs", `{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/b"}]},"b":{"type":"array","items":{},"minItems":0,"maxItems":0,"anyOf":[{"$ref":"#/$defs/a"}]}}}`, "$ref"},
		{"not json", `{"type":`, ""},
		{"false", `false`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileSchema([]byte(tt.schema))
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SchemaError", err)
			}
			if se.Keyword != tt.keyword {
				t.Errorf("keyword = %q, want %q (%v)", se.Keyword, tt.keyword, err)
			}
			if tt.keyword != "" && !strings.Contains(err.Error(), tt.keyword) {
				t.Errorf("error %q does not name %q", err, tt.keyword)
			}
		})
	}
}

// matchCases pairs schemas with texts they must accept and reject.
var matchCases = []struct {
	name, schema string
	accept       []string
	reject       []string
}{
	{"string", `{"type":"string"}`,
		[]string{`""`, `"abc"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\uABCD"`, `"é日本🙂"`},
		[]string{`"`, `"abc`, `"a\x"`, `"\u12"`, `"\u12G4"`, "\"a\nb\"", `abc`, `"a" `, "\"\xff\"", "\"\xed\xa0\x80\"", "\"\xc0\x80\""}},
	{"number", `{"type":"number"}`,
		[]string{`0`, `-0`, `12`, `-3.25`, `1e10`, `1.5E-3`, `2e+7`},
		[]string{`01`, `-`, `1.`, `.5`, `1e`, `+1`, `1.5.2`, `NaN`, `1e100`}},
	{"integer", `{"type":"integer"}`,
		[]string{`0`, `-7`, `1234567890`, `999999999999999`},
		[]string{`1.0`, `1e3`, `00`, `-`, `1000000000000000`}},
	{"boolean null", `{"type":["boolean","null"]}`,
		[]string{`true`, `false`, `null`},
		[]string{`tru`, `"true"`, `0`}},
	{"enum", `{"enum":["red","green",3,null,{"a":[1]}]}`,
		[]string{`"red"`, `"green"`, `3`, `null`, `{"a":[1]}`},
		[]string{`"blue"`, `"re"`, `4`, `{"a":[2]}`}},
	{"const", `{"const":"a<b&c"}`, []string{`"a<b&c"`}, []string{`"a\u003cb&c"`, `"x"`}},
	{"object required and optional", `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"]}`,
		[]string{`{"b":"x"}`, `{"a":1,"b":"x"}`, `{"b":"x","c":true}`, `{"a":1,"b":"x","c":false}`},
		[]string{`{}`, `{"a":1}`, `{"b":"x","a":1}`, `{"a":1,,"b":"x"}`, `{"b":"x","d":1}`, `{,"b":"x"}`, `{"b":"x",}`, `{ "b":"x"}`}},
	{"object all optional", `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}`,
		[]string{`{}`, `{"a":1}`, `{"b":2}`, `{"a":1,"b":2}`},
		[]string{`{,}`, `{"b":2,"a":1}`, `{"a":1,}`}},
	{"nested", `{"type":"object","properties":{"user":{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},"required":["name","tags"]}},"required":["user"]}`,
		[]string{`{"user":{"name":"n","tags":[]}}`, `{"user":{"name":"n","tags":["a","b"]}}`},
		[]string{`{"user":{"name":"n"}}`, `{"user":{"name":"n","tags":[1]}}`, `{"user":{"name":"n","tags":["a",]}}`}},
	{"array bounds", `{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}`,
		[]string{`[1]`, `[1,2]`, `[1,2,3]`},
		[]string{`[]`, `[1,2,3,4]`, `[1,]`, `[,1]`}},
	{"array max only", `{"type":"array","items":{"type":"integer"},"maxItems":2}`,
		[]string{`[]`, `[1]`, `[1,2]`}, []string{`[1,2,3]`}},
	{"array min only", `{"type":"array","items":{"type":"null"},"minItems":2}`,
		[]string{`[null,null]`, `[null,null,null,null]`}, []string{`[]`, `[null]`}},
	{"anyOf", `{"anyOf":[{"type":"string"},{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}]}`,
		[]string{`"s"`, `{"x":1}`}, []string{`{}`, `1`}},
	{"oneOf objects sharing a prefix", `{"oneOf":[{"type":"object","properties":{"k":{"const":"a"},"v":{"type":"integer"}},"required":["k","v"]},{"type":"object","properties":{"k":{"const":"b"},"w":{"type":"string"}},"required":["k","w"]}]}`,
		[]string{`{"k":"a","v":1}`, `{"k":"b","w":"x"}`}, []string{`{"k":"a","w":"x"}`, `{"k":"b","v":1}`}},
	{"ref recursive", `{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}}}`,
		[]string{`{"v":1}`, `{"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]}`},
		[]string{`{"v":1,"kids":[{}]}`, `{"kids":[]}`}},
	{"definitions", `{"type":"object","properties":{"p":{"$ref":"#/definitions/pt"}},"required":["p"],"definitions":{"pt":{"type":"array","items":{"type":"number"}}}}`,
		[]string{`{"p":[1.5,2]}`}, []string{`{"p":{}}`}},
	{"additionalProperties schema", `{"type":"object","additionalProperties":{"type":"integer"}}`,
		[]string{`{}`, `{"a":1,"b":2}`}, []string{`{"a":"x"}`}},
	{"empty schema", `{}`,
		[]string{`1`, `"x"`, `[1,{"a":null}]`, `{"a":{"b":[true]}}`}, []string{`[1,]`, `{"a"}`}},
	{"string length", `{"type":"string","minLength":2,"maxLength":3}`,
		[]string{`"ab"`, `"abc"`, `"a\n"`, `"日本"`, `"\u00e9x"`}, []string{`"a"`, `"abcd"`, `"\n"`}},
	{"string min only", `{"type":"string","minLength":1}`, []string{`"a"`, `"abcdef"`}, []string{`""`}},
	{"no properties", `{"type":"object","properties":{}}`, []string{`{}`}, []string{`{"a":1}`}},
	{"right recursion is fine", `{"$defs":{"l":{"anyOf":[{"type":"null"},{"type":"array","items":{"$ref":"#/$defs/l"},"maxItems":1}]}},"$ref":"#/$defs/l"}`,
		[]string{`null`, `[]`, `[[null]]`, `[[[[]]]]`}, []string{`[null,null]`}},
	{"nullable", `{"type":"string","nullable":true}`, []string{`"a"`, `null`}, []string{`1`}},
	{"annotations ignored", `{"title":"t","description":"d","type":"integer","default":1,"examples":[1]}`, []string{`5`}, []string{`"5"`}},
	{"key escaping", `{"type":"object","properties":{"a\"b":{"type":"null"}},"required":["a\"b"]}`, []string{`{"a\"b":null}`}, []string{`{"ab":null}`}},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchCases {
		t.Run(tt.name, func(t *testing.T) {
			g, err := CompileSchema([]byte(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.accept {
				if !g.Match([]byte(s)) {
					t.Errorf("rejects %s", s)
				}
			}
			for _, s := range tt.reject {
				if g.Match([]byte(s)) {
					t.Errorf("accepts %s", s)
				}
			}
		})
	}
}

func TestJSONObjectAndChoice(t *testing.T) {
	g := JSONObject()
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":null}],"c":"d"}`} {
		if !g.Match([]byte(s)) {
			t.Errorf("json_object rejects %s", s)
		}
	}
	for _, s := range []string{`[]`, `1`, `"x"`, `{"a":}`} {
		if g.Match([]byte(s)) {
			t.Errorf("json_object accepts %s", s)
		}
	}
	c, err := Choice([]string{"yes", "no", "not sure"})
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"yes": true, "no": true, "not sure": true, "not": false, "nope": false, "": false} {
		if got := c.Match([]byte(s)); got != want {
			t.Errorf("choice %q = %v, want %v", s, got, want)
		}
	}
	if _, err := Choice(nil); err == nil {
		t.Error("empty choice compiled")
	}
}
