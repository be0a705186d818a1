package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
)

// keyOrder remembers the insertion order of the keys of every map handed to a
// template. Python dicts keep insertion order and templates print tool schemas
// with tojson or iterate them with items(), so a byte-exact rendering needs the
// order the caller gave; Go maps forget it. Maps are reference values, so the
// map's pointer identifies it for the whole render.
type keyOrder map[uintptr][]string

// keys returns m's keys in insertion order when known, otherwise sorted (the
// order Go's encoding/json would have produced).
func (o keyOrder) keys(m map[string]any) []string {
	if ks, ok := o[reflect.ValueOf(m).Pointer()]; ok && sameKeys(ks, m) {
		return ks
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// normalize turns any JSON-like Go value (structs, maps, slices,
// json.RawMessage) into the plain values the template engine understands:
// nil, bool, int, float64, string, []any and map[string]any, recording key
// order. It goes through encoding/json so struct field order and raw JSON key
// order survive.
func (o keyOrder) normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string, bool, int, float64:
		return x, nil
	}
	raw, ok := v.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	return o.decode(raw)
}

// decode parses JSON text, keeping object key order in o. Integers stay
// integers (Python's json does the same), everything else numeric is float64.
func (o keyOrder) decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := o.decodeValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func (o keyOrder) decodeValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			m := map[string]any{}
			var ks []string
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := o.decodeValue(d)
				if err != nil {
					return nil, err
				}
				if _, dup := m[k]; !dup {
					ks = append(ks, k)
				}
				m[k] = v
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			o[reflect.ValueOf(m).Pointer()] = ks
			return m, nil
		case '[':
			l := pyList{}
			for d.More() {
				v, err := o.decodeValue(d)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return l, nil
		}
		return nil, fmt.Errorf("unexpected %v", x)
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return int(i), nil
			}
		}
		return x.Float64()
	default:
		return x, nil // string, bool, nil
	}
}

// newMap builds a map with the given key order recorded; pairs alternate
// key, value.
func (o keyOrder) newMap(pairs ...any) map[string]any {
	m := make(map[string]any, len(pairs)/2)
	ks := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k := pairs[i].(string)
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
		m[k] = pairs[i+1]
	}
	o[reflect.ValueOf(m).Pointer()] = ks
	return m
}

// orderRegistry holds the keyOrders of a Template's renders in flight. Dict
// methods and filters are bound when the template is parsed and cannot see a
// render's variables, so they look map identities up here. A map of a live
// render cannot be freed, so its pointer is unique while the render runs.
type orderRegistry struct {
	mu   sync.Mutex
	live map[*keyOrder]struct{}
}

func (r *orderRegistry) add(o *keyOrder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil {
		r.live = map[*keyOrder]struct{}{}
	}
	r.live[o] = struct{}{}
}

func (r *orderRegistry) remove(o *keyOrder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, o)
}

// keys returns m's keys in insertion order when a live render recorded it,
// otherwise sorted.
func (r *orderRegistry) keys(m map[string]any) []string {
	p := reflect.ValueOf(m).Pointer()
	r.mu.Lock()
	for o := range r.live {
		if ks, ok := (*o)[p]; ok && sameKeys(ks, m) {
			r.mu.Unlock()
			return ks
		}
	}
	r.mu.Unlock()
	return keyOrder{}.keys(m)
}

// sameKeys guards against a stale entry: ks must be exactly m's keys.
func sameKeys(ks []string, m map[string]any) bool {
	if len(ks) != len(m) {
		return false
	}
	for _, k := range ks {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}
