package chat

import (
	"reflect"

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
	return exec.NewMethodSet(m)
}
