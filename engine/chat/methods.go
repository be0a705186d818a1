package chat

import (
	"errors"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// dictMethods are the Python dict methods templates call (items, keys,
// values, get), in Python's insertion order rather than gonja's sorted one, so
// that e.g. a tool's parameters print in the order they were declared.
func dictMethods(reg *orderRegistry) *exec.MethodSet[map[string]any] {
	return exec.NewMethodSet(map[string]exec.Method[map[string]any]{
		"items": func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if err := args.Take(); err != nil {
				return nil, exec.ErrInvalidCall(err)
			}
			keys, get := reg.orderedView(self, sv)
			out := make(pyList, len(keys))
			for i, k := range keys {
				out[i] = pyList{k, get(k)}
			}
			return out, nil
		},
		"keys": func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if err := args.Take(); err != nil {
				return nil, exec.ErrInvalidCall(err)
			}
			keys, _ := reg.orderedView(self, sv)
			out := make(pyList, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out, nil
		},
		"values": func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if err := args.Take(); err != nil {
				return nil, exec.ErrInvalidCall(err)
			}
			keys, get := reg.orderedView(self, sv)
			out := make(pyList, len(keys))
			for i, k := range keys {
				out[i] = get(k)
			}
			return out, nil
		},
		"get": func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) < 1 || len(args.Args) > 2 {
				return nil, exec.ErrInvalidCall(errors.New("get() takes 1 or 2 positional arguments"))
			}
			if v, ok := self[args.Args[0].String()]; ok {
				return v, nil
			}
			if len(args.Args) == 2 {
				return args.Args[1].Interface(), nil
			}
			return nil, nil
		},
	})
}

// orderedView returns the keys of a dict in insertion order and a lookup.
// Dicts that came from the caller carry their order in the map's identity;
// dict literals of the template are gonja Dicts with ordered pairs.
func (reg *orderRegistry) orderedView(self map[string]any, sv *exec.Value) ([]string, func(string) any) {
	switch x := sv.Interface().(type) {
	case map[string]any:
		return reg.keys(x), func(k string) any { return x[k] }
	case exec.Dict:
		keys := make([]string, 0, len(x.Pairs))
		vals := map[string]any{}
		for _, p := range x.Pairs {
			k := p.Key.String()
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
			}
			vals[k] = p.Value
		}
		return keys, func(k string) any { return vals[k] }
	}
	return reg.keys(self), func(k string) any { return self[k] }
}
