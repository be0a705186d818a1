package modelbench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/native/bench"
)

// Report is one Run: what the model costs per token, and one Result per
// thread count.
type Report struct {
	Arch    string `json:"arch"`
	Type    string `json:"weight_type"` // of the attention Q projection: the model's main type
	Layers  int    `json:"layers"`
	Embd    int    `json:"embd"`
	Vocab   int    `json:"vocab"`
	ISA     string `json:"isa"`
	Binding string `json:"binding"`
	KVType  string `json:"kv_type"`
	Depth   int    `json:"depth"` // context tokens before each test
	// MatrixParams are the elements of every matrix a token passes through
	// (the layers' projections and the output head).
	MatrixParams int64 `json:"matrix_params"`
	// DecodeBytes are the weight bytes one decode step reads: every matrix,
	// the norms and one embedding row. K/V reads are not counted, so the
	// roofline is a slight overestimate and the ratio to it conservative.
	DecodeBytes int64 `json:"decode_weight_bytes_per_token"`
	// PrefillFLOP is the arithmetic of the prefill test: 2 per
	// multiply-add of every layer matrix for every prompt token, the output
	// head for the last token, and causal attention (QKᵀ and PV) over the
	// depth and the prompt.
	PrefillFLOP float64 `json:"prefill_flop"`
	// Repacked is what loading repacked (extra anonymous memory, load time).
	Repacked model.RepackStats `json:"repacked"`
	Results  []Result          `json:"results"`

	layerParams, outParams int64
	attnFLOPPerPair        float64 // per (query, key) pair over all layers and heads
}

// Result is one thread count's measurements and their ratios to the
// ceilings measured just before them.
type Result struct {
	Threads        int            `json:"threads"`
	Ceilings       bench.Ceilings `json:"ceilings"`
	PromptTokens   int            `json:"prompt_tokens"`
	PrefillSeconds float64        `json:"prefill_seconds"`
	PrefillTPS     float64        `json:"prefill_tokens_per_s"`
	PrefillGFLOPS  float64        `json:"prefill_gflops"`
	PrefillPctPeak float64        `json:"prefill_pct_of_fma_peak"`
	GenTokens      int            `json:"gen_tokens"`
	DecodeSeconds  float64        `json:"decode_seconds"`
	DecodeTPS      float64        `json:"decode_tokens_per_s"`
	DecodeGBps     float64        `json:"decode_weight_gbps"`
	DecodeBWGBps   float64        `json:"decode_read_gbps"` // read bandwidth probed beside the reported decode run
	RooflineTPS    float64        `json:"roofline_tokens_per_s"`
	DecodePctRoof  float64        `json:"decode_pct_of_roofline"`
}

func newReport(m *model.Model, o Options) *Report {
	c := &m.Config
	w := m.Weights
	rep := &Report{Arch: c.Arch, Type: w.Layers[0].Q.Type.String(), Layers: c.NLayer, Embd: c.NEmbd,
		Vocab: c.NVocab, Binding: native.Binding, KVType: o.KVType.String(), Depth: o.Depth, Repacked: m.Repacked()}
	bytes := int64(len(w.OutNorm)) * 4
	for i := range w.Layers {
		l := &w.Layers[i]
		for _, mx := range []*model.Matrix{&l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down} {
			rep.layerParams += int64(mx.Rows) * int64(mx.Cols)
			bytes += int64(len(mx.Data))
		}
		bytes += int64(len(l.AttnNorm)+len(l.FFNNorm)+len(l.QBias)+len(l.KBias)+len(l.VBias)) * 4
		if c.NExpert > 0 { // a token reads the router and its NExpertUsed experts
			rep.layerParams += int64(l.GateInp.Rows) * int64(l.GateInp.Cols)
			bytes += int64(len(l.GateInp.Data))
			for _, mx := range []*model.Matrix{&l.GateExps, &l.UpExps, &l.DownExps} {
				rep.layerParams += int64(mx.Rows) * int64(mx.Cols) / int64(c.NExpert) * int64(c.NExpertUsed)
				bytes += int64(len(mx.Data)) / int64(c.NExpert) * int64(c.NExpertUsed)
			}
		}
	}
	rep.outParams = int64(w.Output.Rows) * int64(w.Output.Cols)
	bytes += int64(len(w.Output.Data))
	if w.TokEmbd.Rows > 0 {
		bytes += int64(len(w.TokEmbd.Data) / w.TokEmbd.Rows)
	}
	rep.MatrixParams = rep.layerParams + rep.outParams
	rep.DecodeBytes = bytes
	// QKᵀ and PV: 2 FLOP per multiply-add, HeadDim of each per head and pair.
	rep.attnFLOPPerPair = float64(c.NLayer) * float64(c.NHead) * float64(c.HeadDim) * 4
	p := float64(o.Prompt)
	rep.PrefillFLOP = 2*p*float64(rep.layerParams) + 2*float64(rep.outParams) + rep.attnFLOPPerPair*(p*(p+1)/2+p*float64(o.Depth))
	return rep
}

// add derives res's rates and ratios and appends it.
func (r *Report) add(res Result) {
	if res.PrefillSeconds > 0 {
		res.PrefillTPS = float64(res.PromptTokens) / res.PrefillSeconds
		res.PrefillGFLOPS = r.PrefillFLOP / res.PrefillSeconds / 1e9
		res.PrefillPctPeak = 100 * res.PrefillGFLOPS / res.Ceilings.FMAPeakGFLOPS
	}
	if res.DecodeSeconds > 0 {
		res.DecodeTPS = float64(res.GenTokens) / res.DecodeSeconds
		res.DecodeGBps = res.DecodeTPS * float64(r.DecodeBytes) / 1e9
		res.RooflineTPS = res.DecodeBWGBps * 1e9 / float64(r.DecodeBytes)
		res.DecodePctRoof = 100 * res.DecodeTPS / res.RooflineTPS
	}
	r.Results = append(r.Results, res)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes a llama-bench-like table with the ceiling ratios.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "model: %s %s, %d layers, embd %d, vocab %d; %.1f M matrix params, %.1f MiB read per decoded token\n",
		r.Arch, r.Type, r.Layers, r.Embd, r.Vocab, float64(r.MatrixParams)/1e6, float64(r.DecodeBytes)/(1<<20))
	fmt.Fprintf(w, "kernels: %s (%s binding), K/V cache %s", r.ISA, r.Binding, r.KVType)
	at := ""
	if r.Depth > 0 {
		at = fmt.Sprintf(" @ d%d", r.Depth)
		fmt.Fprintf(w, ", %d tokens of context before each test (the roofline counts weights only)", r.Depth)
	}
	fmt.Fprint(w, "\n")
	if rp := r.Repacked; rp.Tensors > 0 {
		fmt.Fprintf(w, "weights: %d matrices repacked to %s at load: %.1f MiB of anonymous memory in place of their file pages (released), %.0f ms\n",
			rp.Tensors, rp.Type, float64(rp.Bytes)/(1<<20), rp.Took.Seconds()*1e3)
	} else {
		fmt.Fprint(w, "weights: used in place from the file mapping (nothing repacked)\n")
	}
	fmt.Fprint(w, "\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "threads\ttest\ttokens/s\tGFLOP/s\tFMA peak\t% FMA peak\tweight GB/s\tread GB/s\troofline tok/s\t% roofline\t")
	for _, res := range r.Results {
		if res.PrefillSeconds > 0 {
			fmt.Fprintf(tw, "%d\tpp%d%s\t%.1f\t%.1f\t%.1f\t%.1f%%\t\t\t\t\t\n", res.Threads, res.PromptTokens, at, res.PrefillTPS,
				res.PrefillGFLOPS, res.Ceilings.FMAPeakGFLOPS, res.PrefillPctPeak)
		}
		if res.DecodeSeconds > 0 {
			fmt.Fprintf(tw, "%d\ttg%d%s\t%.2f\t\t\t\t%.1f\t%.1f\t%.2f\t%.1f%%\t\n", res.Threads, res.GenTokens, at, res.DecodeTPS,
				res.DecodeGBps, res.DecodeBWGBps, res.RooflineTPS, res.DecodePctRoof)
		}
	}
	return tw.Flush()
}
