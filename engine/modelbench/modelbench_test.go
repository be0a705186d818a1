package modelbench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

func loadStories(t *testing.T, maxBatch int) *model.Model {
	t.Helper()
	path, err := filepath.Abs("../../../shared/models/stories260K.gguf")
	if err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test model not found: %v", err)
	}
	m, err := model.Load(path, model.WithMaxBatchTokens(maxBatch))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// quick are options small enough for a unit test.
func quick() Options {
	o := DefaultOptions()
	o.Prompt, o.Gen, o.Reps, o.Threads = 32, 8, 2, []int{1}
	o.BWBytes, o.FMASeconds = 8<<20, 0.01
	return o
}

func TestRunReportsRatesAndRatios(t *testing.T) {
	m := loadStories(t, 64)
	rep, err := Run(m, quick())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("results: %d, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	for name, v := range map[string]float64{
		"prefill tokens/s": r.PrefillTPS, "prefill GFLOP/s": r.PrefillGFLOPS, "% FMA peak": r.PrefillPctPeak,
		"decode tokens/s": r.DecodeTPS, "read GB/s": r.DecodeBWGBps, "roofline": r.RooflineTPS, "% roofline": r.DecodePctRoof,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	// The byte count is every matrix plus norms and one embedding row:
	// at least the matrices, at most the whole file.
	var matrices int64
	for _, l := range m.Weights.Layers {
		for _, mx := range []model.Matrix{l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down} {
			matrices += int64(len(mx.Data))
		}
	}
	matrices += int64(len(m.Weights.Output.Data))
	st, _ := os.Stat("../../../shared/models/stories260K.gguf")
	if rep.DecodeBytes < matrices || rep.DecodeBytes > st.Size() {
		t.Errorf("decode bytes %d outside [%d, %d]", rep.DecodeBytes, matrices, st.Size())
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "pp32") || !strings.Contains(table.String(), "tg8") {
		t.Errorf("table (%v):\n%s", err, table.String())
	}
	if err := rep.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("json (%v): %s", err, js.String())
	}
}

// TestRatesFollowTheClock drives Run with a fake clock that advances a fixed
// step per reading, so every timed test takes exactly one step and the
// derived figures are known exactly.
func TestRatesFollowTheClock(t *testing.T) {
	m := loadStories(t, 64)
	o := quick()
	now := time.Unix(0, 0)
	o.Now = func() time.Time { now = now.Add(500 * time.Millisecond); return now }
	rep, err := Run(m, o)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.PrefillTPS != 64 || r.DecodeTPS != 16 {
		t.Errorf("prefill %v tokens/s, decode %v: want 64 and 16 (32 and 8 tokens in 0.5 s)", r.PrefillTPS, r.DecodeTPS)
	}
	if want := rep.PrefillFLOP / 0.5 / 1e9; r.PrefillGFLOPS != want {
		t.Errorf("prefill %v GFLOP/s, want %v", r.PrefillGFLOPS, want)
	}
	if want := 100 * 16 * float64(rep.DecodeBytes) / (r.DecodeBWGBps * 1e9); r.DecodePctRoof-want > 1e-9 || want-r.DecodePctRoof > 1e-9 {
		t.Errorf("decode %v%% of roofline, want %v%%", r.DecodePctRoof, want)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	m := loadStories(t, 64)
	for name, edit := range map[string]func(*Options){
		"nothing to run":     func(o *Options) { o.Prompt, o.Gen = 0, 0 },
		"negative prompt":    func(o *Options) { o.Prompt = -1 },
		"prompt over batch":  func(o *Options) { o.Prompt = 65 },
		"gen over context":   func(o *Options) { o.Gen = m.Config.NCtx + 1 },
		"no threads":         func(o *Options) { o.Threads = nil },
		"zero threads":       func(o *Options) { o.Threads = []int{0} },
		"zero repetitions":   func(o *Options) { o.Reps = 0 },
		"unsupported kv":     func(o *Options) { o.KVType = native.Q4_0 },
		"negative depth":     func(o *Options) { o.Depth = -1 },
		"depth over context": func(o *Options) { o.Depth = m.Config.NCtx - 8 },
	} {
		t.Run(name, func(t *testing.T) {
			o := quick()
			edit(&o)
			if _, err := Run(m, o); err == nil {
				t.Error("want an error")
			}
		})
	}
}

// TestDepth runs the tests after 100 tokens of context (more than the
// model's max batch, so the depth is filled in chunks) with a Q8_0 cache:
// the report names the depth, and prefill's arithmetic counts the
// attention to it.
func TestDepth(t *testing.T) {
	m := loadStories(t, 64)
	o := quick()
	o.Depth, o.KVType = 100, native.Q8_0
	rep, err := Run(m, o)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Run(m, quick())
	if err != nil {
		t.Fatal(err)
	}
	if want := plain.PrefillFLOP + rep.attnFLOPPerPair*32*100; rep.PrefillFLOP != want {
		t.Errorf("prefill FLOP at depth %v, want %v", rep.PrefillFLOP, want)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "pp32 @ d100") ||
		!strings.Contains(table.String(), "tg8 @ d100") || !strings.Contains(table.String(), "K/V cache q8_0") {
		t.Errorf("table (%v):\n%s", err, table.String())
	}
	if r := rep.Results[0]; !(r.PrefillTPS > 0 && r.DecodeTPS > 0) {
		t.Errorf("rates %+v", r)
	}
}
