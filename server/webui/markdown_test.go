package webui

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMarkdown runs the page's Markdown renderer in Node on answers a model
// may write, hostile ones included: the model's text never becomes markup.
// Outside CI the test skips when node is absent.
func TestMarkdown(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but node is not installed")
		}
		t.Skip("node is not installed")
	}
	cases := []struct{ name, in, want string }{
		{"paragraph", "a\nb\n\nc", "<p>a<br>b</p>\n<p>c</p>"},
		{"heading", "## Title *x*", "<h2>Title <em>x</em></h2>"},
		{"bold code", "**b** `a<b>`", "<p><strong>b</strong> <code>a&lt;b&gt;</code></p>"},
		{"no format in code", "`**x**`", "<p><code>**x**</code></p>"},
		{"fence", "```js\nif (a < b) {}\n```", `<pre><code class="language-js">if (a &lt; b) {}</code></pre>`},
		{"open fence while streaming", "```\nx", "<pre><code>x</code></pre>"},
		{"lists", "- a\n- b\n1. c", "<ul><li>a</li><li>b</li></ul>\n<ol><li>c</li></ol>"},
		{"quote", "> q", "<blockquote><p>q</p></blockquote>"},
		{"link", "[k](https://example.com/a?b=1&c=2)", `<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">k</a></p>`},
		{"script tag", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"img onerror", `<img src=x onerror="alert(1)">`, "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"},
		{"javascript link", "[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"},
		{"attribute break", `[x](https://a.b/"onmouseover="alert(1))`, `<p><a href="https://a.b/&quot;onmouseover=&quot;alert(1" target="_blank" rel="noopener noreferrer">x</a>)</p>`},
		{"language class", "```\"><script>\nx\n```", "<pre><code>x</code></pre>"},
		{"rule", "---", "<hr>"},
		{"snake_case", "a_b_c and 2*3*4", "<p>a_b_c and 2*3*4</p>"},
	}
	ins := make([]string, len(cases))
	for i, tc := range cases {
		ins[i] = tc.in
	}
	in, _ := json.Marshal(ins)
	script := `const {renderMarkdown} = require(process.argv[1]);
const ins = JSON.parse(process.argv[2]);
process.stdout.write(JSON.stringify(ins.map(renderMarkdown)));`
	abs, _ := filepath.Abs("assets/markdown.js")
	out, err := exec.Command(node, "-e", script, abs, string(in)).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got[i] != tc.want {
				t.Errorf("renderMarkdown(%q)\n got %s\nwant %s", tc.in, got[i], tc.want)
			}
		})
	}
}
