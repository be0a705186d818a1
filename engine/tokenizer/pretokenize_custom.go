package tokenizer

// pieceCursor gives bounds-checked access to one piece of the text: outside
// [ini, end) a position reads as "no code point" with empty flags, which is
// how the look-aheads of the hand-written splitters see the piece's edges.
type pieceCursor struct {
	runes    []rune
	flags    []cpFlags
	ini, end int
	prev     int
	out      []int
}

const outOfRange = -1

func (c *pieceCursor) cpt(pos int) rune {
	if pos >= c.ini && pos < c.end {
		return c.runes[pos]
	}
	return outOfRange
}

func (c *pieceCursor) fl(pos int) cpFlags {
	if pos >= c.ini && pos < c.end {
		return c.flags[pos]
	}
	return 0
}

// cut ends the current word at end.
func (c *pieceCursor) cut(end int) {
	if end > c.prev {
		c.out = append(c.out, end-c.prev)
	}
	c.prev = end
}

const notLNS = flagLetter | flagNumber | flagWhitespace

// gpt2Splitter implements the GPT-2 pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
// without a regex engine (as llama.cpp's unicode_regex_split_custom_gpt2).
type gpt2Splitter struct{}

func (gpt2Splitter) split(runes []rune, flags []cpFlags, pieces []int) []int {
	c := &pieceCursor{runes: runes, flags: flags, out: make([]int, 0, len(pieces)+len(runes)/3)}
	start := 0
	for _, n := range pieces {
		c.ini, c.end, c.prev = start, start+n, start
		start += n
		for pos := c.ini; pos < c.end; {
			cpt, f := c.cpt(pos), c.fl(pos)
			if cpt == '\'' && pos+1 < c.end {
				switch c.cpt(pos + 1) {
				case 's', 't', 'm', 'd':
					pos += 2
					c.cut(pos)
					continue
				}
				if pos+2 < c.end {
					a, b := c.cpt(pos+1), c.cpt(pos+2)
					if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
						pos += 3
						c.cut(pos)
						continue
					}
				}
			}
			f2 := f
			space := 0
			if cpt == ' ' {
				f2 = c.fl(pos + 1)
				space = 1
			}
			switch {
			case f2.isLetter():
				pos += space
				for c.fl(pos).isLetter() {
					pos++
				}
				c.cut(pos)
				continue
			case f2.isNumber():
				pos += space
				for c.fl(pos).isNumber() {
					pos++
				}
				c.cut(pos)
				continue
			case f2&notLNS == 0 && f2 != 0:
				pos += space
				for g := c.fl(pos); g&notLNS == 0 && g != 0; g = c.fl(pos) {
					pos++
				}
				c.cut(pos)
				continue
			}
			ws := 0
			for c.fl(pos + ws).isWhitespace() {
				ws++
			}
			switch {
			case ws > 1 && c.cpt(pos+ws) != outOfRange: // \s+(?!\S)
				pos += ws - 1
			case ws > 0:
				pos += ws
			default:
				pos++
			}
			c.cut(pos)
		}
	}
	return c.out
}

// llama3Splitter implements the Llama 3 pattern
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// without a regex engine (as llama.cpp's unicode_regex_split_custom_llama3).
// With maxDigits 1 it is Qwen2's pattern (\p{N} instead of \p{N}{1,3}),
// which llama.cpp runs through std::regex; the tests check both against the
// regex engine.
type llama3Splitter struct{ maxDigits int }

func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

func (sp llama3Splitter) split(runes []rune, flags []cpFlags, pieces []int) []int {
	c := &pieceCursor{runes: runes, flags: flags, out: make([]int, 0, len(pieces)+len(runes)/3)}
	start := 0
	for _, n := range pieces {
		c.ini, c.end, c.prev = start, start+n, start
		start += n
		for pos := c.ini; pos < c.end; {
			cpt, f := c.cpt(pos), c.fl(pos)
			if cpt == '\'' && pos+1 < c.end {
				a := asciiLower(c.cpt(pos + 1))
				if a == 's' || a == 't' || a == 'm' || a == 'd' {
					pos += 2
					c.cut(pos)
					continue
				}
				if pos+2 < c.end {
					b := asciiLower(c.cpt(pos + 2))
					if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
						pos += 3
						c.cut(pos)
						continue
					}
				}
			}
			// [^\r\n\p{L}\p{N}]?\p{L}+
			if !(cpt == '\r' || cpt == '\n' || f.isNumber()) && (f.isLetter() || c.fl(pos+1).isLetter()) {
				pos++
				for c.fl(pos).isLetter() {
					pos++
				}
				c.cut(pos)
				continue
			}
			// \p{N}{1,maxDigits}
			if f.isNumber() {
				ini := pos
				for c.fl(pos).isNumber() {
					pos++
					if pos-ini >= sp.maxDigits {
						c.cut(pos)
						ini = pos
					}
				}
				c.cut(pos)
				continue
			}
			// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
			f2 := f
			space := 0
			if cpt == ' ' {
				f2 = c.fl(pos + 1)
				space = 1
			}
			if f2&notLNS == 0 && f != 0 {
				pos += space
				for g := c.fl(pos); g&notLNS == 0 && g != 0; g = c.fl(pos) {
					pos++
				}
				for r := c.cpt(pos); r == '\r' || r == '\n'; r = c.cpt(pos) {
					pos++
				}
				c.cut(pos)
				continue
			}
			ws, lastNL := 0, 0
			for c.fl(pos + ws).isWhitespace() {
				if r := c.cpt(pos + ws); r == '\r' || r == '\n' {
					lastNL = pos + ws + 1
				}
				ws++
			}
			switch {
			case lastNL > 0: // \s*[\r\n]+
				pos = lastNL
			case ws > 1 && c.cpt(pos+ws) != outOfRange: // \s+(?!\S)
				pos += ws - 1
			case ws > 0:
				pos += ws
			default:
				pos++
			}
			c.cut(pos)
		}
	}
	return c.out
}
