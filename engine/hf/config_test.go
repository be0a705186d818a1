package hf

import "testing"

// TestSWAPeriod: layer patterns llama.cpp can read as a period become one;
// the others stay an array.
func TestSWAPeriod(t *testing.T) {
	tests := []struct {
		name   string
		pat    []bool
		want   uint32
		wantOK bool
	}{
		{"gemma3 5:1", []bool{true, true, true, true, true, false, true, true, true, true, true, false}, 6, true},
		{"tiny 2:1", []bool{true, true, false}, 3, true},
		{"alternating", []bool{true, false, true, false}, 2, true},
		{"all global", []bool{false, false}, 1, true},
		{"all sliding", []bool{true, true, true}, 0, true},
		{"global first", []bool{false, true, true}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := swaPeriod(tt.pat)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("swaPeriod(%v) = %d, %v; want %d, %v", tt.pat, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
