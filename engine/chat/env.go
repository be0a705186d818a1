package chat

import (
	"errors"
	"fmt"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// renderState is what the per-render globals (raise_exception, strftime_now)
// share with Render.
type renderState struct {
	now    func() time.Time
	raised *string
}

// raiseException is HF's raise_exception: it aborts rendering with the
// template's own message.
func (s *renderState) raiseException(msg any) (any, error) {
	m := fmt.Sprint(msg)
	if v, ok := msg.(*exec.Value); ok {
		m = v.String()
	}
	if s.raised == nil {
		s.raised = &m
	}
	return nil, errors.New(m)
}

// strftimeNow is HF's strftime_now(format): the current local time formatted
// with Python's strftime directives.
func (s *renderState) strftimeNow(format string) string {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	return strftime(now(), format)
}

// newEnvironment is gonja's default environment with HF's changes: tojson as
// json.dumps(ensure_ascii=False) in the caller's key order, and dict methods
// that keep insertion order like Python's. The builtin sets are copied, never
// modified.
func newEnvironment(reg *orderRegistry) *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	_ = filters.Replace("tojson", reg.filterToJSON)
	_ = filters.Replace("items", reg.filterItems)
	_ = filters.Replace("trim", filterTrim)
	for _, name := range []string{"list", "sort", "unique", "reverse", "batch", "slice"} {
		if f, ok := filters.Get(name); ok {
			_ = filters.Replace(name, pyListFilter(f))
		}
	}
	controls := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{}).Update(builtins.ControlStructures)
	_ = controls.Register("generation", generationParser)
	methods := builtins.Methods
	methods.Str = strMethods()
	methods.Dict = dictMethods(reg)
	return &exec.Environment{
		Context:           exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables),
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: controls,
		Methods:           methods,
	}
}

// filterToJSON is transformers' tojson(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False).
func (reg *orderRegistry) filterToJSON(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	opt := jsonOptions{itemSep: ", ", keySep: ": "}
	indent := params.GetKeywordArgument("indent", nil)
	if len(params.Args) > 0 {
		indent = params.Args[0]
	}
	if !indent.IsNil() {
		opt.indented = true
		opt.itemSep = ","
		if indent.IsString() {
			opt.indent = indent.String()
		} else {
			for range indent.Integer() {
				opt.indent += " "
			}
		}
	}
	if sk := params.GetKeywordArgument("sort_keys", false); sk.IsTrue() {
		opt.sortKeys = true
	}
	if sep := params.GetKeywordArgument("separators", nil); sep.IsList() && sep.Len() == 2 {
		opt.itemSep = sep.Index(0).String()
		opt.keySep = sep.Index(1).String()
	}
	s, err := pyJSON(reg, in.Interface(), opt)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(s) // a str, not Markup, as in transformers
}
