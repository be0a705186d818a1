package chat

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// jsonOptions mirror the arguments transformers passes to json.dumps in its
// tojson filter: ensure_ascii=False, an optional indent, and the separators
// Python picks (", " and ": ", or "," and ": " when indenting).
type jsonOptions struct {
	indent   string // "" = single line
	indented bool
	sortKeys bool
	itemSep  string
	keySep   string
}

// jsonKeys gives a map's keys in the order to print them.
type jsonKeys interface{ keys(map[string]any) []string }

// pyJSON serializes v exactly as Python's json.dumps(v, ensure_ascii=False,
// ...) would, keeping each map's recorded key order.
func pyJSON(o jsonKeys, v any, opt jsonOptions) (string, error) {
	var b strings.Builder
	if err := writeJSON(o, &b, v, opt, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeJSON(o jsonKeys, b *strings.Builder, v any, opt jsonOptions, depth int) error {
	if depth > 100 {
		return fmt.Errorf("tojson: value nested too deeply")
	}
	newline := func(d int) {
		if opt.indented {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(opt.indent, d))
		}
	}
	switch x := v.(type) {
	case *exec.Value:
		if x.IsError() {
			return fmt.Errorf("%s", x.Error())
		}
		return writeJSON(o, b, x.Interface(), opt, depth)
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writeJSONString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(pyFloatJSON(x))
	case []any:
		return writeJSON(o, b, pyList(x), opt, depth)
	case pyList:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(opt.itemSep)
			}
			newline(depth + 1)
			if err := writeJSON(o, b, e, opt, depth+1); err != nil {
				return err
			}
		}
		newline(depth)
		b.WriteByte(']')
	case map[string]any:
		keys := o.keys(x)
		if opt.sortKeys {
			keys = sortedCopy(keys)
		}
		return writeObject(o, b, keys, func(k string) any { return x[k] }, opt, depth)
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
		if opt.sortKeys {
			keys = sortedCopy(keys)
		}
		return writeObject(o, b, keys, func(k string) any { return vals[k] }, opt, depth)
	case *exec.Dict:
		return writeJSON(o, b, *x, opt, depth)
	default:
		return writeReflect(o, b, v, opt, depth)
	}
	return nil
}

func writeObject(o jsonKeys, b *strings.Builder, keys []string, get func(string) any, opt jsonOptions, depth int) error {
	if len(keys) == 0 {
		b.WriteString("{}")
		return nil
	}
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(opt.itemSep)
		}
		if opt.indented {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(opt.indent, depth+1))
		}
		writeJSONString(b, k)
		b.WriteString(opt.keySep)
		if err := writeJSON(o, b, get(k), opt, depth+1); err != nil {
			return err
		}
	}
	if opt.indented {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(opt.indent, depth))
	}
	b.WriteByte('}')
	return nil
}

// writeReflect handles the other Go types a caller or the engine may produce
// (typed slices and maps, other int and float widths).
func writeReflect(o jsonKeys, b *strings.Builder, v any, opt jsonOptions, depth int) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(pyFloatJSON(rv.Float()))
	case reflect.String:
		writeJSONString(b, rv.String())
	case reflect.Slice, reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return writeJSON(o, b, l, opt, depth)
	case reflect.Map:
		m := map[string]any{}
		for _, k := range rv.MapKeys() {
			m[fmt.Sprint(k.Interface())] = rv.MapIndex(k).Interface()
		}
		return writeJSON(o, b, m, opt, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		return writeJSON(o, b, rv.Elem().Interface(), opt, depth)
	default:
		return fmt.Errorf("tojson: object of type %T is not JSON serializable", v)
	}
	return nil
}

func sortedCopy(ks []string) []string {
	c := append([]string(nil), ks...)
	sort.Strings(c)
	return c
}

// writeJSONString escapes like Python's json with ensure_ascii=False: only the
// quote, the backslash and control characters are escaped.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloatJSON formats a float as Python's float.__repr__ (which json.dumps
// uses): shortest round-trip digits, scientific below 1e-4 or from 1e16 up,
// and always a ".0" on integral values.
func pyFloatJSON(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloatRepr(f)
}

func pyFloatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	if abs < 1e-4 || abs >= 1e16 {
		s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1e-05 -> "1e-05"
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
