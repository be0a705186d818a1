package quantize

import (
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// Preset is one of llama-quantize's file types: the type most weight
// matrices get, and the GGUF general.file_type it writes.
type Preset struct {
	Name     string      // "q4_k_m"
	FileType uint32      // llama_ftype (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15)
	Default  native.Type // the type a matrix gets unless a rule below says otherwise
}

// Presets lists the file types kiln quantize writes, with llama.cpp's numbering.
func Presets() []Preset {
	return []Preset{
		{"q4_0", 2, native.Q4_0},
		{"q4_1", 3, native.Q4_1},
		{"q8_0", 7, native.Q8_0},
		{"q5_0", 8, native.Q5_0},
		{"q5_1", 9, native.Q5_1},
		{"q2_k", 10, native.Q2_K},
		{"q3_k_s", 11, native.Q3_K},
		{"q3_k_m", 12, native.Q3_K},
		{"q3_k_l", 13, native.Q3_K},
		{"q4_k_s", 14, native.Q4_K},
		{"q4_k_m", 15, native.Q4_K},
		{"q5_k_s", 16, native.Q5_K},
		{"q5_k_m", 17, native.Q5_K},
		{"q6_k", 18, native.Q6_K},
		{"iq4_nl", 25, native.IQ4_NL},
		{"iq4_xs", 30, native.IQ4_XS},
	}
}

// PresetNames lists the names of Presets, for help text and errors.
func PresetNames() []string {
	var out []string
	for _, p := range Presets() {
		out = append(out, p.Name)
	}
	return out
}

// LookupPreset finds a preset by name (case-insensitive).
func LookupPreset(name string) (Preset, error) {
	for _, p := range Presets() {
		if strings.EqualFold(p.Name, name) {
			return p, nil
		}
	}
	return Preset{}, fmt.Errorf("quantize: unknown type %q (want one of %s)", name, strings.Join(PresetNames(), ", "))
}

// category is llama.cpp's broad tensor category for type selection.
type category int

const (
	catOther category = iota
	catOutput
	catTokenEmbd
	catAttnQKV
	catAttnKVB
	catAttnV
	catAttnK
	catAttnQ
	catAttnOutput
	catFFNUp
	catFFNGate
	catFFNDown
)

// categoryOf follows llama.cpp's tensor_get_category (substring tests, in order).
func categoryOf(name string) category {
	switch {
	case name == "output.weight":
		return catOutput
	case name == "token_embd.weight" || name == "per_layer_token_embd.weight":
		return catTokenEmbd
	}
	for _, c := range []struct {
		sub string
		cat category
	}{
		{"attn_qkv.weight", catAttnQKV}, {"attn_kv_b.weight", catAttnKVB}, {"attn_v.weight", catAttnV},
		{"attn_k.weight", catAttnK}, {"attn_q.weight", catAttnQ}, {"attn_output.weight", catAttnOutput},
		{"ffn_up", catFFNUp}, {"ffn_gate", catFFNGate}, {"ffn_down", catFFNDown},
	} {
		if strings.Contains(name, c.sub) {
			return c.cat
		}
	}
	return catOther
}

func (c category) attnV() bool { return c == catAttnV || c == catAttnQKV || c == catAttnKVB }

// notQuantized are the name fragments llama.cpp never quantizes
// (tensor_allows_quantization): norms, expert gates, tiny or positional tensors.
var notQuantized = []string{
	"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
	"ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
	"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
	"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
	"time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
	"time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
	"attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
	".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
}

// nDims is ggml_n_dims: trailing dimensions of 1 do not count.
func nDims(shape []int64) int {
	n := len(shape)
	for n > 1 && shape[n-1] == 1 {
		n--
	}
	return n
}

// allowsQuantization is llama.cpp's tensor_allows_quantization (output
// tensor included, no --only-copy).
func allowsQuantization(t gguf.TensorInfo) bool {
	if nDims(t.Shape) < 2 || !strings.HasSuffix(t.Name, "weight") {
		return false
	}
	if t.Name == "position_embd.weight" || t.Name == "token_types.weight" {
		return false
	}
	for _, s := range notQuantized {
		if strings.Contains(t.Name, s) {
			return false
		}
	}
	return true
}

// selector picks each tensor's type as llama.cpp's llama_tensor_get_type
// does for a dense (not mixture-of-experts) model without an importance
// matrix. It is stateful: attn_v and ffn_down tensors are counted in the
// order they are asked about, which must be the file's tensor order as
// llama.cpp sorts it (tensorOrder).
type selector struct {
	p                  Preset
	tied               bool // no output.weight: token_embd is the output too
	is70B              bool // llama's 70B: attn_v gets more bits
	gqa                int  // n_head / n_head_kv
	nAttnV, iAttnV     int
	nFFNDown, iFFNDown int
}

func newSelector(p Preset, tensors []gguf.TensorInfo, nLayer, gqa int, is70B bool) *selector {
	s := &selector{p: p, tied: true, nFFNDown: nLayer, gqa: gqa, is70B: is70B}
	for _, t := range tensors {
		c := categoryOf(t.Name)
		if c.attnV() {
			s.nAttnV++
		}
		if c == catOutput {
			s.tied = false
		}
	}
	return s
}

// useMoreBits is llama.cpp's use_more_bits: the first and last eighth of
// the layers and every third layer between them.
func useMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// typeFor returns tensor t's target type (t's own type when it stays as it is).
func (s *selector) typeFor(t gguf.TensorInfo) (native.Type, error) {
	if !allowsQuantization(t) {
		return native.Type(t.Type), nil
	}
	ft, typ := s.p.FileType, s.p.Default
	c := categoryOf(t.Name)
	switch {
	case c == catOutput || (s.tied && c == catTokenEmbd):
		if t.Shape[0]%int64(typ.BlockSize()) != 0 {
			typ = native.Q8_0
		} else if typ != native.Q8_0 {
			typ = native.Q6_K
		}
	case c == catTokenEmbd:
	case c.attnV():
		switch {
		case ft == 10 && s.gqa >= 4:
			typ = native.Q4_K
		case ft == 10:
			typ = native.Q3_K
		case ft == 12 && s.iAttnV < 2:
			typ = native.Q5_K
		case ft == 12:
			typ = native.Q4_K
		case ft == 13:
			typ = native.Q5_K
		case (ft == 25 || ft == 30) && s.gqa >= 4:
			typ = native.Q5_K
		case (ft == 15 || ft == 17) && useMoreBits(s.iAttnV, s.nAttnV):
			typ = native.Q6_K
		case ft == 14 && s.iAttnV < 4:
			typ = native.Q5_K
		}
		if s.is70B && (typ == native.Q3_K || typ == native.Q4_K) {
			typ = native.Q5_K
		}
		s.iAttnV++
	case c == catFFNDown:
		i, n := s.iFFNDown, s.nFFNDown
		switch {
		case ft == 10:
			typ = native.Q3_K
		case ft == 12 && i < n/16:
			typ = native.Q5_K
		case ft == 12:
			typ = native.Q4_K // (Falcon alone keeps Q3_K outside use_more_bits)
		case ft == 13:
			typ = native.Q5_K
		case ft == 15 && useMoreBits(i, n):
			typ = native.Q6_K
		case (ft == 25 || ft == 30) && i < n/8: // (without an importance matrix)
			typ = native.Q5_K
		case ft == 17 && useMoreBits(i, n):
			typ = native.Q6_K
		case ft == 14 && i < n/8:
			typ = native.Q5_K
		}
		s.iFFNDown++
	case c == catAttnOutput:
		switch ft {
		case 10:
			typ = native.Q3_K
		case 12:
			typ = native.Q4_K
		case 13:
			typ = native.Q5_K
		}
	}
	return fallback(typ, t.Shape[0])
}

// fallback is llama.cpp's tensor_type_fallback: a row length the type's
// block does not divide gets a 32-element type, or F16 if 32 does not
// divide it either; the 32-element types have no fallback (an error, as in
// llama-quantize).
func fallback(typ native.Type, cols int64) (native.Type, error) {
	if cols%int64(typ.BlockSize()) == 0 {
		return typ, nil
	}
	want := typ
	switch typ {
	case native.IQ4_XS:
		typ = native.IQ4_NL
	case native.Q2_K, native.Q3_K:
		typ = native.Q4_0
	case native.Q4_K:
		typ = native.Q5_0
	case native.Q5_K:
		typ = native.Q5_1
	case native.Q6_K:
		typ = native.Q8_0
	default:
		return 0, fmt.Errorf("row length %d is not a multiple of %v's block of %d, and %v has no fallback type", cols, want, want.BlockSize(), want)
	}
	if cols%int64(typ.BlockSize()) != 0 {
		return native.F16, nil
	}
	return typ, nil
}
