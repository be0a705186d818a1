package grammar

import (
	"fmt"
	"strings"
)

// directive handles Lark's %import common.X (and refuses %ignore).
func (p *bnfParser) directive() error {
	end := strings.IndexByte(p.src[p.pos:], '\n')
	if end < 0 {
		end = len(p.src) - p.pos
	}
	line := strings.Fields(p.src[p.pos : p.pos+end])
	if len(line) >= 2 && line[0] == "%import" {
		names := line[1:]
		module := ""
		if i := strings.LastIndexByte(names[0], '.'); i >= 0 {
			module, names[0] = names[0][:i], names[0][i+1:]
		}
		if module != "common" {
			return p.errorf("only %%import common.NAME is supported")
		}
		for _, n := range names {
			n = strings.Trim(n, "(),")
			if n == "" {
				continue
			}
			src, ok := larkCommon(n)
			if !ok {
				return p.errorf("common.%s is not one of the supported common terminals", n)
			}
			if p.defined[n] {
				return p.errorf("rule %q is defined twice", n)
			}
			e, _, _, err := p.b.parseRegex(src, "common."+n)
			if err != nil {
				return fmt.Errorf("grammar: common.%s: %w", n, err)
			}
			p.defined[n] = true
			p.b.define(p.rule(n), e)
		}
		p.pos += end
		return nil
	}
	if len(line) >= 1 && line[0] == "%ignore" {
		return p.errorf("%%ignore is not supported: the output is exactly the grammar's text, so write the whitespace into the rules")
	}
	return p.errorf("unsupported directive %q", line[0])
}

// larkCommon is the regex of a terminal of Lark's common.lark.
func larkCommon(name string) (string, bool) {
	switch name {
	case "WS":
		return `[ \t\f\r\n]+`, true
	case "WS_INLINE":
		return `[ \t]+`, true
	case "NEWLINE":
		return `(\r?\n)+`, true
	case "DIGIT":
		return `[0-9]`, true
	case "HEXDIGIT":
		return `[a-fA-F0-9]`, true
	case "INT":
		return `[0-9]+`, true
	case "SIGNED_INT":
		return `[+-]?[0-9]+`, true
	case "DECIMAL":
		return `[0-9]+\.[0-9]*|\.[0-9]+`, true
	case "NUMBER":
		return `[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?`, true
	case "SIGNED_NUMBER":
		return `[+-]?([0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?)`, true
	case "LETTER":
		return `[a-zA-Z]`, true
	case "WORD":
		return `[a-zA-Z]+`, true
	case "CNAME":
		return `[a-zA-Z_][a-zA-Z0-9_]*`, true
	case "ESCAPED_STRING":
		return `"([^"\\]|\\.)*"`, true
	}
	return "", false
}

// looksLikeClass tells a GBNF character class inside a Lark grammar from
// Lark's [x] option: [^...] is a class, and so is a bracket holding no
// quote, space, group or alternation that is not the name of a rule.
func (p *bnfParser) looksLikeClass() bool {
	if strings.HasPrefix(p.src[p.pos:], "[^") {
		return true
	}
	end := strings.IndexByte(p.src[p.pos:], ']')
	if end < 0 {
		return true // the class parser reports it
	}
	body := p.src[p.pos+1 : p.pos+end]
	if body == "" || strings.ContainsAny(body, "\"' ()|\t\n") {
		return false
	}
	if strings.Trim(body, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == "" && p.definesRule(body) {
		return false
	}
	return true
}

// definesRule reports whether the grammar has a rule named name.
func (p *bnfParser) definesRule(name string) bool {
	for _, line := range strings.Split(p.src, "\n") {
		line = strings.TrimLeft(strings.TrimSpace(line), "?!")
		if rest, ok := strings.CutPrefix(line, name); ok {
			rest = strings.TrimSpace(rest)
			if strings.HasPrefix(rest, ":") {
				return true
			}
		}
	}
	return false
}

// larkRegex parses a /regex/ terminal (flags are refused).
func (p *bnfParser) larkRegex() (*expr, error) {
	start := p.pos
	p.pos++
	var sb strings.Builder
	for {
		if p.pos >= len(p.src) || p.src[p.pos] == '\n' {
			return nil, p.errAt(start, "unterminated /regex/")
		}
		c := p.src[p.pos]
		if c == '/' {
			p.pos++
			break
		}
		if c == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/' {
			sb.WriteByte('/')
			p.pos += 2
			continue
		}
		sb.WriteByte(c)
		p.pos++
	}
	if p.pos < len(p.src) && strings.IndexByte("imslux", p.src[p.pos]) >= 0 && (p.pos+1 >= len(p.src) || !isNameChar(p.src[p.pos+1])) {
		return nil, p.errorf("regex flags are not supported")
	}
	e, _, _, err := p.b.parseRegex(sb.String(), "regex")
	if err != nil {
		return nil, p.errAt(start, err.Error())
	}
	return e, nil
}
