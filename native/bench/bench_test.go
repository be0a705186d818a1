package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/native"
)

// TestRunKernelsSmall runs the whole harness on tiny shapes: ceilings,
// gorgonia baseline, every weight type, and the derived checks.
func TestRunKernelsSmall(t *testing.T) {
	o := DefaultOptions()
	o.Shapes = []Shape{{Model: "test", N: 64, K: 64}, {Model: "test", N: 32, K: 96}}
	o.Ms = []int{1, 4}
	o.MinTime = time.Millisecond
	o.ColdBytes = 1 << 20
	o.FMASeconds = 0.01
	defer native.Init(0)
	rep, err := RunKernels(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(o.Shapes) * len(o.Types) * len(o.Ms) * len(o.Threads); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	for _, c := range rep.Ceilings {
		if !(c.ReadGBps > 0) || !(c.FMAPeakGFLOPS > 0) || !(c.Int8PeakGOPS > 0) || !(c.BF16PeakGFLOPS > 0) {
			t.Fatalf("ceilings without figures: %+v", c)
		}
	}
	for _, r := range rep.Rows {
		if !(r.GFLOPS > 0) || !(r.PctCeiling > 0) || !(r.VsGorgonia > 0) {
			t.Fatalf("row without figures: %+v", r)
		}
		if gemmQ8 := r.Type == "q8_0" && r.M > 1; gemmQ8 != (r.PctInt8Peak > 0) {
			t.Fatalf("%% of int8 peak should be set exactly on Q8_0 GEMM rows: %+v", r)
		}
		if gemmBF16 := r.Type == "bf16" && r.M > 1 && bf16DotActive(); gemmBF16 != (r.Bound == "bf16_peak") {
			t.Fatalf("the bf16 peak should bound exactly the BF16 GEMM rows on VDPBF16PS: %+v", r)
		}
	}
	if len(rep.Checks) == 0 {
		t.Fatal("no acceptance checks derived")
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "acceptance figures") ||
		!strings.Contains(table.String(), "int8 peak GOP/s") || !strings.Contains(table.String(), "bf16 peak GFLOP/s") {
		t.Fatalf("table: %v\n%s", err, table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != len(rep.Rows) ||
		back.Ceilings[0].Int8PeakGOPS != rep.Ceilings[0].Int8PeakGOPS ||
		back.Ceilings[0].BF16PeakGFLOPS != rep.Ceilings[0].BF16PeakGFLOPS {
		t.Fatalf("json round trip: %v", err)
	}
}

func TestParseShapes(t *testing.T) {
	if s, err := ParseShapes("8192x2048, 5x7"); err != nil || len(s) != 2 || s[0].N != 8192 || s[1].K != 7 {
		t.Fatalf("got %v %v", s, err)
	}
	for _, bad := range []string{"8192", "0x5", "ax3"} {
		if _, err := ParseShapes(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// TestRunKernelsQuantTypes: the quantized types are measured where their
// block divides k and skipped (said so) where it does not.
func TestRunKernelsQuantTypes(t *testing.T) {
	o := DefaultOptions()
	o.Shapes = []Shape{{Model: "test", N: 32, K: 256}, {Model: "test", N: 32, K: 96}}
	o.Types = []native.Type{native.Q4_0, native.Q4_K, native.Q6_K}
	o.Ms = []int{1, 4}
	o.Threads = []int{1}
	o.MinTime = time.Millisecond
	o.ColdBytes = 1 << 16
	o.FMASeconds = 0.01
	o.Baseline = false
	var log bytes.Buffer
	o.Progress = &log
	defer native.Init(0)
	rep, err := RunKernels(o)
	if err != nil {
		t.Fatal(err)
	}
	// k=256: all three types; k=96: Q4_0 only
	if want := (3 + 1) * len(o.Ms); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	if !strings.Contains(log.String(), "skip q4_k at test 32x96") {
		t.Errorf("no skip note in the progress log:\n%s", log.String())
	}
}
