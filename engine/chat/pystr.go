package chat

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// strSplit is Python's str.split / str.rsplit(sep=None, maxsplit=-1):
// without sep it splits on runs of whitespace and drops empty fields.
// gonja's split requires sep.
func strSplit(fromRight bool) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) > 2 {
			return nil, exec.ErrInvalidCall(errors.New("split() takes at most 2 arguments"))
		}
		sep := args.GetKeywordArgument("sep", nil)
		maxsplit := args.GetKeywordArgument("maxsplit", -1).Integer()
		if len(args.Args) > 0 {
			sep = args.Args[0]
		}
		if len(args.Args) > 1 {
			maxsplit = args.Args[1].Integer()
		}
		var parts []string
		switch {
		case sep.IsNil():
			parts = strings.Fields(self)
			if maxsplit >= 0 && len(parts) > maxsplit+1 {
				// keep the remainder as Python does (approximately: rejoined by the
				// original text from the split point)
				if fromRight {
					head := self[:strings.LastIndex(strings.TrimRight(self, pyWhitespace), parts[len(parts)-maxsplit])]
					parts = append([]string{strings.TrimRight(head, pyWhitespace)}, parts[len(parts)-maxsplit:]...)
				} else {
					rest := strings.TrimLeft(self, pyWhitespace)
					for range maxsplit {
						rest = strings.TrimLeft(rest[len(strings.Fields(rest)[0]):], pyWhitespace)
					}
					parts = append(parts[:maxsplit], rest)
				}
			}
		case sep.String() == "":
			return nil, exec.ErrInvalidCall(errors.New("empty separator"))
		case fromRight && maxsplit >= 0:
			s, sp := self, sep.String()
			for range maxsplit {
				i := strings.LastIndex(s, sp)
				if i < 0 {
					break
				}
				parts = append([]string{s[i+len(sp):]}, parts...)
				s = s[:i]
			}
			parts = append([]string{s}, parts...)
		default:
			n := -1
			if maxsplit >= 0 {
				n = maxsplit + 1
			}
			parts = strings.SplitN(self, sep.String(), n)
		}
		out := make(pyList, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	}
}

// String prints the list as Python's repr does ({{ list }} in a template).
func (l pyList) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pyRepr(v))
	}
	b.WriteByte(']')
	return b.String()
}

// pyRepr is Python's repr of a template value inside a container.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyStrRepr(x)
	case float64:
		return pyFloatRepr(x)
	case *exec.Value:
		if x.IsNil() {
			return "None"
		}
		return pyRepr(x.Interface())
	case fmt.Stringer:
		return x.String()
	}
	return exec.ToValue(v).String()
}

// pyStrRepr quotes like Python: single quotes unless the string holds a
// single quote and no double quote.
func pyStrRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x` + strconv.FormatInt(int64(r)|0x100, 16)[1:])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
