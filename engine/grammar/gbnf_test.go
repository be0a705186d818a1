package grammar

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// Sample grammars in the style of llama.cpp's grammars/ directory.
const (
	gbnfJSON = `root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
`
	gbnfArithmetic = `root  ::= (expr "=" ws term "\n")+
expr  ::= term ([-+*/] term)*
term  ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num   ::= [0-9]+ ws
ws    ::= [ \t\n]*
`
	gbnfList = `root ::= item+

# Excludes various line break characters
item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
`
	gbnfChess = `# Specifies chess moves as a list in algebraic notation, using PGN conventions
root    ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n"){1,3}
move    ::= (pawn | nonpawn | castle) [+#]?
# piece type, optional file/rank, optional capture, dest file & rank
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
# optionally capture + dest file & rank, optionally promotion
pawn    ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?
castle  ::= "O-O" "-O"?
`
	larkCalc = `?start: sum
?sum: product
    | sum_tail
sum_tail: product ("+" | "-") product
?product: NUMBER
    | "(" sum ")"
%import common.NUMBER
`
)

// arithmeticOK is an independent recognizer of gbnfArithmetic.
func arithmeticOK(s string) bool {
	p := 0
	ws := func() {
		for p < len(s) && strings.IndexByte(" \t\n", s[p]) >= 0 {
			p++
		}
	}
	var expr func() bool
	term := func() bool {
		switch {
		case p < len(s) && s[p] >= 'a' && s[p] <= 'z':
			for p++; p < len(s) && (s[p] >= 'a' && s[p] <= 'z' || s[p] >= '0' && s[p] <= '9' || s[p] == '_'); p++ {
			}
			ws()
			return true
		case p < len(s) && s[p] >= '0' && s[p] <= '9':
			for p < len(s) && s[p] >= '0' && s[p] <= '9' {
				p++
			}
			ws()
			return true
		case p < len(s) && s[p] == '(':
			p++
			ws()
			if !expr() || p >= len(s) || s[p] != ')' {
				return false
			}
			p++
			ws()
			return true
		}
		return false
	}
	expr = func() bool {
		if !term() {
			return false
		}
		for p < len(s) && strings.IndexByte("-+*/", s[p]) >= 0 {
			p++
			if !term() {
				return false
			}
		}
		return true
	}
	lines := 0
	for p < len(s) {
		if !expr() || p >= len(s) || s[p] != '=' {
			return false
		}
		p++
		ws()
		if !term() {
			return false
		}
		// term's trailing ws may have eaten the "\n": the grammar needs one.
		if s[p-1] != '\n' {
			if p >= len(s) || s[p] != '\n' {
				return false
			}
			p++
		}
		lines++
	}
	return lines > 0
}

// TestGBNFSamples random-walks llama.cpp-style grammars and checks every
// text with an independent recognizer.
func TestGBNFSamples(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	chessRe := regexp.MustCompile(`^1\. M M\n([1-9][0-9]?\. M M\n){1,3}$`)
	move := regexp.MustCompile(`(([a-h]x)?[a-h][1-8](=[NBKQR])?|[NBKQR][a-h]?[1-8]?x?[a-h][1-8]|O-O(-O)?)[+#]?`)
	listRe := regexp.MustCompile(`^(- [^\r\n\x0b\x0c\x{85}\x{2028}\x{2029}]+\n)+$`)
	tests := []struct {
		name, src string
		lark      bool
		check     func(string) bool
	}{
		{"json", gbnfJSON, false, func(s string) bool {
			// json.gbnf's exponents may overflow a float64: check syntax only.
			return json.Valid([]byte(s)) && strings.HasPrefix(s, "{")
		}},
		{"arithmetic", gbnfArithmetic, false, arithmeticOK},
		{"list", gbnfList, false, listRe.MatchString},
		{"chess", gbnfChess, false, func(s string) bool { return chessRe.MatchString(move.ReplaceAllString(s, "M")) }},
		{"lark calc", larkCalc, true, func(s string) bool {
			return regexp.MustCompile(`^[0-9.eE+\-()]+$`).MatchString(s) && strings.Count(s, "(") == strings.Count(s, ")")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g *Grammar
			var err error
			if tt.lark {
				g, err = DefaultLimits().EBNF(context.Background(), tt.src)
			} else {
				g, err = DefaultLimits().GBNF(context.Background(), tt.src)
			}
			if err != nil {
				t.Fatal(err)
			}
			for seed := 0; seed < 20; seed++ {
				text, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(seed), 13)), 20000)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if !tt.check(string(text)) {
					t.Fatalf("seed %d: %q is not a sentence of the grammar", seed, text)
				}
				if !g.Match(text) {
					t.Fatalf("seed %d: grammar rejects its own %q", seed, text)
				}
			}
		})
	}
}

func TestGBNFMatch(t *testing.T) {
	tests := []struct {
		src     string
		lark    bool
		yes, no []string
	}{
		{gbnfArithmetic, false, []string{"a+1=b\n", "(x)*2= 3\n"}, []string{"a+1=b", "1==2\n", "+1=2\n"}},
		{gbnfChess, false, []string{"1. e4 e5\n2. Nf3 Nc6\n", "1. O-O Qxd8#\n2. a8=Q+ Kh1\n"}, []string{"1. e4 e5\n", "1. e9 e5\n2. a1 a2\n"}},
		{`root ::= "a"{2,3} [α-ω]`, false, []string{"aaβ", "aaaω"}, []string{"aβ", "aaaaβ", "aab"}},
		{`root ::= [^a-z]+`, false, []string{"AB", "é€"}, []string{"aB", ""}},
		{`root ::= "\u00e9\x41\n"`, false, []string{"éA\n"}, []string{"éA"}},
		{`root ::= x | "b"
x ::= "a" x?`, false, []string{"a", "aaa", "b"}, []string{"ab", ""}},
		{"start: greeting name\ngreeting: \"hi \" | 'hello '\nname: /[A-Z][a-z]+/ [\"!\"]", true, []string{"hi Bob", "hello Ann!"}, []string{"hi bob", "hey Bob"}},
		{"start: item ~ 2..3\nitem: \"x\" [\"-\"]", true, []string{"xx", "x-x-x-"}, []string{"x", "xxxx"}},
		{"root ::= [a-c]+ \"!\"", true, []string{"abc!"}, []string{"abd!"}},
		{"start: WORD \" \" INT\n%import common.WORD\n%import common.INT", true, []string{"abc 12"}, []string{"abc12"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			g, err := DefaultLimits().compileBNF(context.Background(), tt.src, tt.lark)
			if err != nil {
				t.Fatal(err)
			}
			for _, y := range tt.yes {
				if !g.Match([]byte(y)) {
					t.Errorf("rejects %q", y)
				}
			}
			for _, n := range tt.no {
				if g.Match([]byte(n)) {
					t.Errorf("accepts %q", n)
				}
			}
		})
	}
}

func TestGBNFErrors(t *testing.T) {
	tests := []struct {
		src       string
		lark      bool
		line, col int
		msg       string
	}{
		{`root ::= "abc`, false, 1, 10, "unterminated"},
		{"root ::= x\n", false, 1, 10, `"x" is used but not defined`},
		{"x ::= \"a\"\n", false, 2, 1, "no rule named root"},
		{"root ::= \"a\"\nroot ::= \"b\"", false, 2, 1, "defined twice"},
		{"root ::= (\"a\"", false, 1, 14, `missing ')'`},
		{"root ::= [a-", false, 1, 10, "unclosed ["},
		{"root ::= \"a\"{3,1}", false, 1, 13, "bad repetition"},
		{"root ::= \"\\q\"", false, 1, 11, "unknown escape"},
		{"root ::= root \"a\"", false, 1, 1, "left recursion"},
		{"root ::= @", false, 1, 10, "unexpected"},
		{"start: \"a\"\n%ignore \" \"", true, 2, 1, "%ignore"},
		{"start: /a(?=b)/", true, 1, 8, "regex"},
		{"start: x\n%import common.NOPE", true, 2, 1, "NOPE"},
		{"start: \"a\"i", true, 1, 11, "case-insensitive"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := DefaultLimits().compileBNF(context.Background(), tt.src, tt.lark)
			var ge *GrammarError
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want a *GrammarError", err)
			}
			if !strings.Contains(ge.Msg, tt.msg) || ge.Line != tt.line || ge.Col != tt.col {
				t.Errorf("err = %v, want line %d col %d with %q", err, tt.line, tt.col, tt.msg)
			}
		})
	}
}

// TestGBNFLimits: hostile grammars are refused by the budgets.
func TestGBNFLimits(t *testing.T) {
	for _, src := range []string{
		`root ::= ((("a"{0,1000}){1000}){1000})`,
		`root ::= x{1000}
x ::= ("a"{1000}){1000}`,
	} {
		_, err := Limits{MaxBytes: 1 << 20}.GBNF(context.Background(), src)
		if !IsLimit(err) {
			t.Errorf("%.40q: err = %v, want a *LimitError", src, err)
		}
	}
}
