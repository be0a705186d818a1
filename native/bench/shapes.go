package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Shape is one weight matrix: n output rows of k inputs.
type Shape struct {
	Model string `json:"model"`
	N     int    `json:"n"`
	K     int    `json:"k"`
}

func (s Shape) String() string { return fmt.Sprintf("%dx%d", s.N, s.K) }

// ModelShapes are the projection shapes of the two models kiln is tuned on:
// attention (q/o), FFN up and down, and the output head.
var ModelShapes = []Shape{
	{"smollm2-135m", 576, 576}, {"smollm2-135m", 1536, 576}, {"smollm2-135m", 576, 1536}, {"smollm2-135m", 49152, 576},
	{"llama3.2-1b", 2048, 2048}, {"llama3.2-1b", 8192, 2048}, {"llama3.2-1b", 2048, 8192}, {"llama3.2-1b", 128256, 2048},
}

// ParseShapes reads "NxK,NxK" (or "all").
func ParseShapes(s string) ([]Shape, error) {
	if s == "" || s == "all" {
		return ModelShapes, nil
	}
	var out []Shape
	for _, part := range strings.Split(s, ",") {
		nk := strings.Split(strings.TrimSpace(part), "x")
		if len(nk) != 2 {
			return nil, fmt.Errorf("shape %q: want NxK", part)
		}
		n, err1 := strconv.Atoi(nk[0])
		k, err2 := strconv.Atoi(nk[1])
		if err1 != nil || err2 != nil || n <= 0 || k <= 0 {
			return nil, fmt.Errorf("shape %q: want positive NxK", part)
		}
		out = append(out, Shape{Model: "custom", N: n, K: k})
	}
	return out, nil
}

// ParseInts reads "1,128".
func ParseInts(s, what string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s %q: want positive integers separated by commas", what, part)
		}
		out = append(out, v)
	}
	return out, nil
}
