package chat

import (
	"errors"
	"reflect"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// pyList is a list with Python's indexing. gonja v2.9.1 cannot index a list
// with -len (messages[-1] of a one-message list is None there), which breaks
// templates such as Mistral's `message == user_messages[-1]`. gonja consults
// an ItemGetter before its own lookup, so every list the template receives,
// builds with |list, or gets from split() or dict methods is a pyList.
type pyList []any

// GetItem implements exec.ItemGetter: integer keys index from the end when
// negative; other keys are not items of a list (gonja then tries attributes).
func (l pyList) GetItem(key any) (*exec.Value, bool) {
	i, ok := key.(int)
	if !ok {
		return exec.AsValue(nil), false
	}
	if i < 0 {
		i += len(l)
	}
	if i < 0 || i >= len(l) {
		return exec.AsValue(nil), false
	}
	return exec.ToValue(l[i]), true
}

// toPyList converts any Go slice value to a pyList (nil when v is not one).
func toPyList(v any) (pyList, bool) {
	switch x := v.(type) {
	case pyList:
		return x, true
	case []any:
		return pyList(x), true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make(pyList, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// pyListFilter wraps a builtin filter whose result is a list (list, sort,
// unique, reverse, ...) so that the result indexes like Python's.
func pyListFilter(f exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		out := f(e, in, params)
		if out.IsError() || !out.IsList() {
			return out
		}
		if l, ok := toPyList(out.Interface()); ok {
			return exec.AsValue(l)
		}
		return out
	}
}

// strMethods delegates to gonja's string methods, with the ones returning a
// list wrapped in a pyList (content.split('</think>')[-1] is common).
func strMethods() *exec.MethodSet[string] {
	base := builtins.Methods.Str
	m := map[string]exec.Method[string]{}
	for _, name := range []string{"capitalize", "capwords", "casefold", "center", "count",
		"encode", "endswith", "expandtabs", "find", "format", "format_map", "isalnum",
		"isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric",
		"isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
		"lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind",
		"rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith",
		"strip", "swapcase", "title", "upper", "zfill"} {
		f, ok := base.Get(name)
		if !ok {
			continue
		}
		m[name] = func(self string, sv *exec.Value, args *exec.VarArgs) (any, error) {
			out, err := f(self, sv, args)
			if err != nil {
				return out, err
			}
			if l, ok := toPyList(out); ok && out != nil {
				return l, nil
			}
			return out, nil
		}
	}
	m["replace"] = strReplace
	m["split"] = strSplit(false)
	m["rsplit"] = strSplit(true)
	m["strip"] = strStrip(strings.Trim, strings.TrimSpace)
	m["lstrip"] = strStrip(strings.TrimLeft, func(s string) string { return strings.TrimLeft(s, pyWhitespace) })
	m["rstrip"] = strStrip(strings.TrimRight, func(s string) string { return strings.TrimRight(s, pyWhitespace) })
	return exec.NewMethodSet(m)
}

// strReplace is Python's str.replace(old, new[, count]); gonja's insists on
// the count.
func strReplace(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) < 2 || len(args.Args) > 3 {
		return nil, exec.ErrInvalidCall(errors.New("replace() takes 2 or 3 positional arguments"))
	}
	n := -1
	if len(args.Args) == 3 {
		n = args.Args[2].Integer()
	}
	return strings.Replace(self, args.Args[0].String(), args.Args[1].String(), n), nil
}

// pyWhitespace is what Python's str.strip() removes by default (ASCII part).
const pyWhitespace = " \t\n\r\x0b\x0c"

// strStrip is Python's strip/lstrip/rstrip([chars]): whitespace when chars is
// absent or None, else any of chars. gonja's lstrip/rstrip fail without chars.
func strStrip(cut func(string, string) string, space func(string) string) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) > 1 {
			return nil, exec.ErrInvalidCall(errors.New("strip() takes at most 1 argument"))
		}
		if len(args.Args) == 0 || args.Args[0].IsNil() {
			return space(self), nil
		}
		return cut(self, args.Args[0].String()), nil
	}
}
