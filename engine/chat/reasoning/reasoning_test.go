package reasoning

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, name := range Names() {
		p, err := New(name)
		if err != nil || p.Name() != name {
			t.Fatalf("New(%q) = %v, %v", name, p, err)
		}
	}
	_, err := New("gpt")
	if err == nil || !strings.Contains(err.Error(), "deepseek_r1, qwen3") {
		t.Fatalf("New(gpt): %v; want an error listing the names", err)
	}
}

// TestSplit checks complete outputs, and that a stream fed the same text in
// every two-piece split and byte by byte decides the same parts.
func TestSplit(t *testing.T) {
	cases := []struct {
		parser, text       string
		thinking, answer   string
		ok                 bool
		streamOnlyThinking string // qwen3 without </think>: the stream says thinking
	}{
		{"deepseek_r1", "<think>Let me see.</think>\n\nIt is 4.", "Let me see.", "\n\nIt is 4.", true, ""},
		{"deepseek_r1", "Let me see.</think>It is 4.", "Let me see.", "It is 4.", true, ""},
		{"deepseek_r1", "\n<think>\nhm\n</think>\n\nyes", "\nhm\n", "\n\nyes", true, ""},
		{"deepseek_r1", "still thinking <", "still thinking <", "", true, ""},
		{"deepseek_r1", "</think>only answer", "", "only answer", false, ""},
		{"deepseek_r1", "a </thin", "a </thin", "", true, ""},
		{"deepseek_r1", "", "", "", false, ""},
		{"qwen3", "<think>a < b</think>so a", "a < b", "so a", true, ""},
		{"qwen3", "no thinking here", "", "no thinking here", false, ""},
		{"qwen3", "<think>never ends", "", "<think>never ends", false, "never ends"},
		{"qwen3", "x</think>y", "", "x</think>y", false, ""},
		{"qwen3", "<think></think>\n\nanswer", "", "\n\nanswer", true, ""},
		{"qwen3", "<thinker>", "", "<thinker>", false, ""},
	}
	for _, c := range cases {
		t.Run(c.parser+"/"+c.text, func(t *testing.T) {
			p, err := New(c.parser)
			if err != nil {
				t.Fatal(err)
			}
			th, an, ok := p.Split(c.text)
			if th != c.thinking || an != c.answer || ok != c.ok {
				t.Fatalf("Split = %q, %q, %v; want %q, %q, %v", th, an, ok, c.thinking, c.answer, c.ok)
			}
			wantTh, wantAn := c.thinking, c.answer
			if c.streamOnlyThinking != "" {
				wantTh, wantAn = c.streamOnlyThinking, ""
			}
			for i := 0; i <= len(c.text); i++ {
				gotTh, gotAn := feed(p, c.text[:i], c.text[i:])
				if gotTh != wantTh || gotAn != wantAn {
					t.Fatalf("split at %d: stream = %q, %q; want %q, %q", i, gotTh, gotAn, wantTh, wantAn)
				}
			}
			pieces := strings.Split(c.text, "")
			gotTh, gotAn := feed(p, pieces...)
			if gotTh != wantTh || gotAn != wantAn {
				t.Fatalf("byte by byte: stream = %q, %q; want %q, %q", gotTh, gotAn, wantTh, wantAn)
			}
		})
	}
}

func feed(p *Parser, pieces ...string) (thinking, answer string) {
	st := p.NewStream()
	var th, an strings.Builder
	for _, piece := range pieces {
		d := st.Push(piece)
		th.WriteString(d.Reasoning)
		an.WriteString(d.Content)
	}
	d := st.Finish()
	th.WriteString(d.Reasoning)
	an.WriteString(d.Content)
	return th.String(), an.String()
}

// TestStreamHoldsOnlyMarkers checks a stream never holds back text that
// cannot begin a marker: thinking reaches the client as it is generated.
func TestStreamHoldsOnlyMarkers(t *testing.T) {
	p, _ := New("deepseek_r1")
	st := p.NewStream()
	cases := []struct{ push, reasoning, content string }{
		{"<th", "", ""},
		{"ink>Fir", "Fir", ""},
		{"st </", "st ", ""},
		{"b> and </th", "</b> and ", ""},
		{"ink>", "", ""},
		{"Answer", "", "Answer"},
	}
	for _, c := range cases {
		d := st.Push(c.push)
		if d.Reasoning != c.reasoning || d.Content != c.content {
			t.Fatalf("Push(%q) = %+v; want %q, %q", c.push, d, c.reasoning, c.content)
		}
	}
	if !st.InAnswer() || st.InThinking() {
		t.Fatal("after </think> the stream should be in the answer")
	}
}

// FuzzStream checks that a stream fed an output in any two chunks decides
// the same thinking and answer as one fed it whole, that nothing is lost
// (thinking and answer are the output less its markers), and that Split
// agrees (but for qwen3's unclosed thinking, which Split answers as all
// answer).
func FuzzStream(f *testing.F) {
	for _, s := range []string{"<think>a</think>b", "a</think>b", " <think>\n", "x<think>y</think>z</think>w", "</th</think>", "<<think>>", ""} {
		f.Add(s, uint(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, text string, cut uint) {
		at := int(cut % uint(len(text)+1))
		for _, name := range Names() {
			p, _ := New(name)
			th, an := feed(p, text[:at], text[at:])
			wth, wan := feed(p, text)
			if th != wth || an != wan {
				t.Fatalf("%s: cut at %d: %q / %q, whole %q / %q", name, at, th, an, wth, wan)
			}
			// Only the markers (once each) and whitespace before <think> go.
			lost := len(text) - len(th) - len(an)
			lead := len(text) - len(strings.TrimLeft(text, " \t\r\n"))
			if lost < 0 || lost > lead+len(p.Start())+len(p.End()) {
				t.Fatalf("%s: %d of %d bytes lost", name, lost, len(text))
			}
			sth, san, _ := p.Split(text)
			st := p.NewStream()
			st.Push(text)
			st.Finish()
			if !p.StartsInThinking() && !st.ended {
				if sth != "" || san != text {
					t.Fatalf("%s: unclosed Split = %q / %q", name, sth, san)
				}
				continue
			}
			if sth != th || san != an {
				t.Fatalf("%s: Split %q / %q, stream %q / %q", name, sth, san, th, an)
			}
		}
	})
}
