package chat

import (
	"fmt"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// filterItems is Jinja's |items in Python's insertion order (gonja's walks
// the Go map in random order), e.g. Hermes' and Llama 3.1's
// `tool.parameters.properties|items`.
func (reg *orderRegistry) filterItems(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if err := params.Take(); err != nil {
		return exec.AsValue(exec.ErrInvalidCall(err))
	}
	if in.IsNil() {
		return exec.AsValue(pyList{})
	}
	if in.IsList() {
		return in
	}
	m, ok := in.Interface().(map[string]any)
	if !ok && !in.IsDict() {
		return exec.AsValue(exec.ErrInvalidCall(fmt.Errorf("items requires a mapping, got %s", in.String())))
	}
	keys, get := reg.orderedView(m, in)
	out := make(pyList, len(keys))
	for i, k := range keys {
		out[i] = pyList{k, get(k)}
	}
	return exec.AsValue(out)
}

// filterTrim is Jinja's |trim, which stringifies its input first: an
// undefined value (gonja does not tell it from none) trims to "", as in
// Hermes' `param_fields.description|trim` for a parameter with no
// description. gonja's own trim rejects non-strings.
func filterTrim(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	chars := params.GetKeywordArgument("chars", nil)
	if len(params.Args) > 0 {
		chars = params.Args[0]
	}
	s := ""
	if !in.IsNil() {
		s = in.String()
	}
	if chars.IsNil() {
		return exec.AsValue(strings.TrimSpace(s))
	}
	return exec.AsValue(strings.Trim(s, chars.String()))
}
