package convert

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// llama2cHeader is the seven int32 fields at the start of a llama2.c
// checkpoint (run.c's Config).
type llama2cHeader struct {
	Dim, HiddenDim, NLayers, NHeads, NKVHeads, VocabSize, SeqLen int32
}

// Llama2C converts a llama2.c checkpoint (legacy version-0 export, F32)
// and its tokenizer.bin to a GGUF of architecture llama with a
// SentencePiece vocabulary, as llama.cpp's convert-llama2c-to-ggml does.
// Weights keep llama2.c's layout: its RoPE rotates adjacent pairs, which is
// llama.cpp's normal mode, so Q/K are not permuted.
func Llama2C(modelPath, tokPath, out string) error {
	raw, err := os.ReadFile(modelPath)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	var h llama2cHeader
	const hdr = 7 * 4
	if len(raw) < hdr {
		return fmt.Errorf("convert: %s: %d bytes is too short for a llama2.c header", modelPath, len(raw))
	}
	fields := []*int32{&h.Dim, &h.HiddenDim, &h.NLayers, &h.NHeads, &h.NKVHeads, &h.VocabSize, &h.SeqLen}
	for i, p := range fields {
		*p = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	shared := h.VocabSize > 0
	if h.VocabSize < 0 {
		h.VocabSize = -h.VocabSize
	}
	if h.Dim <= 0 || h.HiddenDim <= 0 || h.NLayers <= 0 || h.NHeads <= 0 || h.NKVHeads <= 0 || h.VocabSize <= 0 || h.SeqLen <= 0 ||
		h.Dim%h.NHeads != 0 || h.NHeads%h.NKVHeads != 0 || h.Dim > 1<<16 || h.HiddenDim > 1<<18 || h.NLayers > 1<<10 || h.VocabSize > 1<<20 || h.SeqLen > 1<<20 {
		return fmt.Errorf("convert: %s: implausible llama2.c header %+v", modelPath, h)
	}
	dim, hid, nl, vocab := int64(h.Dim), int64(h.HiddenDim), int64(h.NLayers), int64(h.VocabSize)
	headSize := dim / int64(h.NHeads)
	kvDim := headSize * int64(h.NKVHeads)

	// Carve the weight arrays in run.c's memory_map_weights order.
	off := int64(hdr)
	var carveErr error
	take := func(n int64) []byte {
		if carveErr != nil {
			return nil
		}
		if off+4*n > int64(len(raw)) {
			carveErr = fmt.Errorf("convert: %s: truncated: need %d bytes, file has %d", modelPath, off+4*n, len(raw))
			return nil
		}
		b := raw[off : off+4*n]
		off += 4 * n
		return b
	}
	tokEmb := take(vocab * dim)
	rmsAtt := take(nl * dim)
	wq := take(nl * dim * dim)
	wk := take(nl * dim * kvDim)
	wv := take(nl * dim * kvDim)
	wo := take(nl * dim * dim)
	rmsFFN := take(nl * dim)
	w1 := take(nl * dim * hid)
	w2 := take(nl * hid * dim)
	w3 := take(nl * dim * hid)
	rmsFinal := take(dim)
	take(int64(h.SeqLen) * headSize / 2) // freq_cis_real (unused)
	take(int64(h.SeqLen) * headSize / 2) // freq_cis_imag (unused)
	var wcls []byte
	if !shared {
		wcls = take(vocab * dim)
	}
	if carveErr != nil {
		return carveErr
	}

	tokMeta, err := llama2cVocab(tokPath, int(vocab))
	if err != nil {
		return err
	}
	w := gguf.NewWriter()
	meta := []struct {
		key string
		v   any
	}{
		{"general.architecture", "llama"},
		{"general.name", "llama"},
		{"general.file_type", uint32(0)},
		{"llama.context_length", uint32(h.SeqLen)},
		{"llama.embedding_length", uint32(h.Dim)},
		{"llama.block_count", uint32(h.NLayers)},
		{"llama.feed_forward_length", uint32(h.HiddenDim)},
		{"llama.attention.head_count", uint32(h.NHeads)},
		{"llama.attention.head_count_kv", uint32(h.NKVHeads)},
		{"llama.rope.dimension_count", uint32(headSize)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
	}
	for _, m := range meta {
		if err := w.Set(m.key, m.v); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
	}
	for _, m := range tokMeta {
		if err := w.Set(m.key, m.v); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
	}
	add := func(name string, data []byte, shape ...int64) error {
		if err := w.AddTensor(name, gguf.TensorF32, shape, data); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		return nil
	}
	if err := add("token_embd.weight", tokEmb, dim, vocab); err != nil {
		return err
	}
	if err := add("output_norm.weight", rmsFinal, dim); err != nil {
		return err
	}
	if shared {
		// llama.cpp's converter always writes output.weight, a copy of
		// the embedding when the classifier is shared.
		wcls = tokEmb
	}
	if err := add("output.weight", wcls, dim, vocab); err != nil {
		return err
	}
	layer := func(b []byte, i, n int64) []byte { return b[4*i*n : 4*(i+1)*n] }
	for i := range nl {
		name := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		for _, t := range []struct {
			name  string
			data  []byte
			shape []int64
		}{
			{"attn_norm.weight", layer(rmsAtt, i, dim), []int64{dim}},
			{"attn_q.weight", layer(wq, i, dim*dim), []int64{dim, dim}},
			{"attn_k.weight", layer(wk, i, dim*kvDim), []int64{dim, kvDim}},
			{"attn_v.weight", layer(wv, i, dim*kvDim), []int64{dim, kvDim}},
			{"attn_output.weight", layer(wo, i, dim*dim), []int64{dim, dim}},
			{"ffn_norm.weight", layer(rmsFFN, i, dim), []int64{dim}},
			{"ffn_gate.weight", layer(w1, i, dim*hid), []int64{dim, hid}},
			{"ffn_down.weight", layer(w2, i, hid*dim), []int64{hid, dim}},
			{"ffn_up.weight", layer(w3, i, dim*hid), []int64{dim, hid}},
		} {
			if err := add(name(t.name), t.data, t.shape...); err != nil {
				return err
			}
		}
	}
	if err := w.WriteFile(out); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	return nil
}

// metaEntry is one metadata entry to write.
type metaEntry struct {
	key string
	v   any
}

// llama2cVocab reads a llama2.c tokenizer.bin (int32 max_token_length, then
// per token: float32 score, int32 length, bytes) into SentencePiece
// tokenizer.ggml.* entries, as llama.cpp's converter does: ids 0/1/2 become
// <unk> (type 2), <s> and </s> (type 3); pieces "<0xXX>" are byte tokens
// (type 6); other pieces are normal (type 1) with spaces written as "▁".
func llama2cVocab(path string, n int) ([]metaEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("convert: tokenizer: %w", err)
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("convert: tokenizer %s: too short", path)
	}
	off := 4 // max_token_length: not needed
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	for i := range n {
		if off+8 > len(b) {
			return nil, fmt.Errorf("convert: tokenizer %s: truncated at token %d of %d", path, i, n)
		}
		scores[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
		l := int(int32(binary.LittleEndian.Uint32(b[off+4:])))
		off += 8
		if l < 0 || off+l > len(b) {
			return nil, fmt.Errorf("convert: tokenizer %s: token %d: bad length %d", path, i, l)
		}
		text := string(b[off : off+l])
		off += l
		switch {
		case i == 0:
			text, types[i] = "<unk>", 2
		case i == 1:
			text, types[i] = "<s>", 3
		case i == 2:
			text, types[i] = "</s>", 3
		case len(text) == 6 && strings.HasPrefix(text, "<0x") && text[5] == '>':
			types[i] = 6
		default:
			text, types[i] = strings.ReplaceAll(text, " ", "▁"), 1
		}
		tokens[i] = text
	}
	return []metaEntry{
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
		{"tokenizer.ggml.seperator_token_id", uint32(math.MaxUint32)}, // none (llama.cpp's spelling)
		{"tokenizer.ggml.padding_token_id", uint32(math.MaxUint32)},
	}, nil
}
