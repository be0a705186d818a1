package toolcall

// parseCase is one model output and what it must parse to. It is shared by
// the Parse tests and the streaming tests, which split every case at every
// byte and check that the stream reassembles to the same Result.
type parseCase struct {
	name    string
	parser  string
	in      string
	content string
	calls   []wantCall
}

type wantCall struct{ name, args string }

func call(name, args string) wantCall { return wantCall{name, args} }

var weather = call("get_weather", `{"city":"Paris","unit":"c"}`)

func cases() []parseCase {
	var all []parseCase
	all = append(all, llama3Cases()...)
	all = append(all, hermesCases()...)
	all = append(all, mistralCases()...)
	all = append(all, pythonicCases()...)
	return all
}

func llama3Cases() []parseCase {
	p := "llama3_json"
	return []parseCase{
		{"one call", p, `{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}`, "", []wantCall{weather}},
		{"python tag", p, `<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}`, "", []wantCall{weather}},
		{"several", p, `{"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {"y": [1, 2]}}`, "",
			[]wantCall{call("a", `{"x":1}`), call("b", `{"y":[1,2]}`)}},
		{"several tagged", p, "<|python_tag|>{\"name\": \"a\", \"parameters\": {}};<|python_tag|>{\"name\": \"b\", \"arguments\": {\"z\": null}}\n", "",
			[]wantCall{call("a", `{}`), call("b", `{"z":null}`)}},
		{"leading space", p, "\n  {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n", "", []wantCall{weather}},
		{"text then tag", p, `Let me look.<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}`, "Let me look.", []wantCall{weather}},
		{"nested escapes unicode", p, `{"name": "note", "parameters": {"text": "say \"hi\"\n\u00e9 ✓ }{", "meta": {"tags": ["a", {"b": true}], "n": -1.5e3}}}`, "",
			[]wantCall{call("note", `{"text":"say \"hi\"\n\u00e9 ✓ }{","meta":{"tags":["a",{"b":true}],"n":-1.5e3}}`)}},
		{"missing parameters", p, `{"name": "now"}`, "", []wantCall{call("now", `{}`)}},
		{"string parameters", p, `{"name": "f", "parameters": "{\"a\": 1}"}`, "", []wantCall{call("f", `{"a":1}`)}},
		{"text after call", p, `{"name": "f", "parameters": {}} and more`, " and more", []wantCall{call("f", `{}`)}},
		{"plain text", p, "The weather in Paris is {mild} today.", "The weather in Paris is {mild} today.", nil},
		{"json in middle", p, `Example: {"name": "f", "parameters": {}}`, `Example: {"name": "f", "parameters": {}}`, nil},
		{"truncated", p, `{"name": "get_weather", "parameters": {"city": "Par`, `{"name": "get_weather", "parameters": {"city": "Par`, nil},
		{"not a call object", p, `{"answer": 42}`, `{"answer": 42}`, nil},
		{"name wrong type", p, `{"name": 7, "parameters": {}}`, `{"name": 7, "parameters": {}}`, nil},
		{"parameters wrong type", p, `{"name": "f", "parameters": [1]}`, `{"name": "f", "parameters": [1]}`, nil},
		{"invalid json", p, `{"name": "f", parameters: {}}`, `{"name": "f", parameters: {}}`, nil},
		{"good then bad", p, `{"name": "a", "parameters": {}}; {"name": 1}`, `; {"name": 1}`, []wantCall{call("a", `{}`)}},
		{"tag then code", p, `<|python_tag|>print(1)`, `<|python_tag|>print(1)`, nil},
		{"lone tag", p, "<|python_tag|>", "<|python_tag|>", nil},
		{"partial tag text", p, "a <|pyth b", "a <|pyth b", nil},
		{"empty", p, "", "", nil},
	}
}

func hermesCases() []parseCase {
	var out []parseCase
	for _, p := range []string{"hermes", "qwen2.5"} {
		out = append(out, []parseCase{
			{"one call", p, `<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}</tool_call>`, "", []wantCall{weather}},
			{"qwen newlines", p, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>", "", []wantCall{weather}},
			{"text before", p, "I'll check the weather.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>\n",
				"I'll check the weather.\n\n", []wantCall{weather}},
			{"several", p, "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>", "",
				[]wantCall{call("a", `{"x":1}`), call("b", `{}`)}},
			{"text between and after", p, `A<tool_call>{"name": "a", "arguments": {}}</tool_call> then B<tool_call>{"name": "b", "arguments": {}}</tool_call> done.`,
				"A then B done.", []wantCall{call("a", `{}`), call("b", `{}`)}},
			{"nested unicode", p, `<tool_call>{"name": "search", "arguments": {"q": "caf\u00e9 \"Zoë\" <b>&", "filters": {"range": [1, 2.5], "ok": false}}}</tool_call>`, "",
				[]wantCall{call("search", `{"q":"caf\u00e9 \"Zoë\" <b>&","filters":{"range":[1,2.5],"ok":false}}`)}},
			{"parameters key", p, `<tool_call>{"name": "f", "parameters": {"a": "b"}}</tool_call>`, "", []wantCall{call("f", `{"a":"b"}`)}},
			{"empty arguments", p, `<tool_call>{"name": "now", "arguments": {}}</tool_call>`, "", []wantCall{call("now", `{}`)}},
			{"unterminated valid", p, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n", "", []wantCall{call("now", `{}`)}},
			{"unterminated truncated", p, `<tool_call>{"name": "now", "argu`, `<tool_call>{"name": "now", "argu`, nil},
			{"truncated inside tags", p, `ok <tool_call>{"name": "f", "arguments": {</tool_call> after`, `ok <tool_call>{"name": "f", "arguments": {</tool_call> after`, nil},
			{"arguments wrong type", p, `<tool_call>{"name": "f", "arguments": 3}</tool_call>`, `<tool_call>{"name": "f", "arguments": 3}</tool_call>`, nil},
			{"garbage after marker", p, `<tool_call>call f now</tool_call>`, `<tool_call>call f now</tool_call>`, nil},
			{"bad then good", p, `<tool_call>x</tool_call><tool_call>{"name": "f"}</tool_call>`, `<tool_call>x</tool_call>`, []wantCall{call("f", `{}`)}},
			{"plain text", p, "Paris is sunny, 21°C. Use <b>tags</b> < 3 times.", "Paris is sunny, 21°C. Use <b>tags</b> < 3 times.", nil},
			{"trailing partial marker", p, "see <tool_c", "see <tool_c", nil},
			{"only whitespace", p, " \n ", "", nil},
		}...)
	}
	return out
}

func mistralCases() []parseCase {
	p := "mistral"
	return []parseCase{
		{"v3 one", p, `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]`, "", []wantCall{weather}},
		{"v3 several", p, `[TOOL_CALLS][{"name": "a", "arguments": {"x": "\u2603"}}, {"name": "b", "arguments": {}}]`, "",
			[]wantCall{call("a", `{"x":"\u2603"}`), call("b", `{}`)}},
		{"v3 text before", p, `Sure.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]`, "Sure.", []wantCall{weather}},
		{"v11 args marker", p, `[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "unit": "c"}`, "", []wantCall{weather}},
		{"v11 bare", p, `[TOOL_CALLS]get_weather{"city": "Paris", "unit": "c"}[TOOL_CALLS]now{}`, "", []wantCall{weather, call("now", `{}`)}},
		{"v11 nested", p, `[TOOL_CALLS]set[ARGS]{"cfg": {"a": [1, {"b": "x\\y]"}]}, "s": "日本"}`, "", []wantCall{call("set", `{"cfg":{"a":[1,{"b":"x\\y]"}]},"s":"日本"}`)}},
		{"v3 truncated", p, `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Par`, `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Par`, nil},
		{"v3 one bad element", p, `[TOOL_CALLS][{"name": "a", "arguments": {}}, {"arguments": {}}]`, `[TOOL_CALLS][{"name": "a", "arguments": {}}, {"arguments": {}}]`, nil},
		{"v3 empty array", p, `[TOOL_CALLS][]`, `[TOOL_CALLS][]`, nil},
		{"v11 args not object", p, `[TOOL_CALLS]f[ARGS][1, 2] x`, `[TOOL_CALLS]f[ARGS][1, 2] x`, nil},
		{"garbage after marker", p, `[TOOL_CALLS] ??? what`, `[TOOL_CALLS] ??? what`, nil},
		{"lone marker", p, `[TOOL_CALLS]`, `[TOOL_CALLS]`, nil},
		{"name without args", p, `[TOOL_CALLS]get_weather`, `[TOOL_CALLS]get_weather`, nil},
		{"plain text", p, "Brackets [like this] are fine, [TOOL too.", "Brackets [like this] are fine, [TOOL too.", nil},
	}
}

func pythonicCases() []parseCase {
	p := "pythonic"
	return []parseCase{
		{"one call", p, `[get_weather(city="Paris", unit='c')]`, "", []wantCall{weather}},
		{"several", p, "[get_weather(city=\"Paris\", unit=\"c\"), other(x=1)]\n", "", []wantCall{weather, call("other", `{"x":1}`)}},
		{"literals", p, `[f(a=True, b=False, c=None, d=-2.50, e=[1, 'two', (3, 4)], g={'k': {"n": 1e-3}, 5: .5}, h=5.)]`, "",
			[]wantCall{call("f", `{"a":true,"b":false,"c":null,"d":-2.50,"e":[1,"two",[3,4]],"g":{"k":{"n":1e-3},"5":0.5},"h":5.0}`)}},
		{"escapes unicode", p, `[note(text='it\'s "x"\n\u00e9 ✓ ]) \\ \q', empty="")]`, "",
			[]wantCall{call("note", `{"text":"it's \"x\"\né ✓ ]) \\ \\q","empty":""}`)}},
		{"no arguments", p, `[now()]`, "", []wantCall{call("now", `{}`)}},
		{"dotted and trailing commas", p, `[ tools.search( q = "a<b", ), ]`, "", []wantCall{call("tools.search", `{"q":"a<b"}`)}},
		{"text after", p, `[now()] Done.`, " Done.", []wantCall{call("now", `{}`)}},
		{"plain text", p, "The answer is [1, 2].", "The answer is [1, 2].", nil},
		{"a plain list", p, "[1, 2, 3]", "[1, 2, 3]", nil},
		{"empty list", p, "[]", "[]", nil},
		{"truncated", p, `[get_weather(city="Par`, `[get_weather(city="Par`, nil},
		{"positional", p, `[f(1, x=2)]`, `[f(1, x=2)]`, nil},
		{"unknown name", p, `[f(x=nan)]`, `[f(x=nan)]`, nil},
		{"hex", p, `[f(x=0x1f)]`, `[f(x=0x1f)]`, nil},
		{"missing paren", p, `[f(x=1]`, `[f(x=1]`, nil},
		{"garbage", p, `[f(x=1) g(y=2)]`, `[f(x=1) g(y=2)]`, nil},
	}
}
