// Command draftpair makes a target and draft model pair for measuring
// speculative decoding with a draft model on random-weight (kiln synth)
// models, whose draft never agrees with its target otherwise: random
// layers all matter, so neither a smaller quantization nor fewer layers
// predicts the target's greedy tokens.
//
// From a llama-family GGUF of L layers it writes
//   - the draft: the first N layers (block_count N, later blocks dropped);
//   - the target: all L layers, but the output projections (attn_output,
//     ffn_down) of layers N.. scaled by 2^-shrink (0 for -shrink -1).
//
// With -shrink -1 the target's later layers add exact zeros to the
// residual stream, so its logits are the draft's bit for bit (every draft
// is accepted) while it still costs all L layers: the pair measures what
// a perfect draft of the draft's cost buys. A small positive shrink lets
// the later layers move the logits a little: the acceptance falls below
// 100% by an amount the shrink sets.
//
//	go run ./scripts/draftpair -in s360.gguf -layers 4 -shrink -1 -target t.gguf -draft d.gguf
//
// Output projections in Q8_0 (the block scale is shrunk) and F16 are
// supported; -shrink -1 works for any type.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
)

func main() {
	in := flag.String("in", "", "source GGUF")
	layers := flag.Int("layers", 4, "layers of the draft (the target keeps all)")
	shrink := flag.Int("shrink", -1, "scale the target's later output projections by 2^-shrink (-1: zero)")
	target := flag.String("target", "", "target GGUF to write")
	draft := flag.String("draft", "", "draft GGUF to write")
	flag.Parse()
	if *in == "" || *target == "" || *draft == "" {
		log.Fatal("draftpair: -in, -target and -draft are required")
	}
	if err := run(*in, *target, *draft, *layers, *shrink); err != nil {
		log.Fatal(err)
	}
}

func run(in, target, draft string, n, shrink int) error {
	f, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	key := f.ArchKey("block_count")
	total, ok := f.ArchUint32("block_count")
	if !ok || n < 1 || n >= int(total) {
		return fmt.Errorf("draftpair: %s has %d layers (%s); want 1 <= -layers < that", in, total, key)
	}
	dw := gguf.NewWriter()
	tw := gguf.NewWriter()
	for _, kv := range f.KVs() {
		v := kv.Value
		if err := tw.Set(kv.Key, v); err != nil {
			return err
		}
		if kv.Key == key {
			if err := dw.Set(key, uint32(n)); err != nil {
				return err
			}
		} else if err := dw.Set(kv.Key, v); err != nil {
			return err
		}
	}
	for i, t := range f.Tensors() {
		data, err := f.TensorDataAt(i)
		if err != nil {
			return err
		}
		layer, later := layerOf(t.Name), false
		if layer >= 0 {
			later = layer >= n
		}
		if !later {
			if err := dw.AddTensor(t.Name, t.Type, t.Shape, data); err != nil {
				return err
			}
		}
		if later && (strings.HasSuffix(t.Name, ".attn_output.weight") || strings.HasSuffix(t.Name, ".ffn_down.weight")) {
			if data, err = scaled(t, data, shrink); err != nil {
				return err
			}
		}
		if err := tw.AddTensor(t.Name, t.Type, t.Shape, data); err != nil {
			return err
		}
	}
	if err := dw.WriteFile(draft); err != nil {
		return err
	}
	return tw.WriteFile(target)
}

// layerOf is the layer of a blk.<i>.* tensor, else -1.
func layerOf(name string) int {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1
	}
	num, _, _ := strings.Cut(rest, ".")
	i, err := strconv.Atoi(num)
	if err != nil {
		return -1
	}
	return i
}

// scaled is a copy of a tensor's data times 2^-shrink (zeros for -1).
func scaled(t gguf.TensorInfo, data []byte, shrink int) ([]byte, error) {
	out := make([]byte, len(data))
	if shrink < 0 {
		return out, nil // every supported block format decodes zeros to 0
	}
	copy(out, data)
	switch t.Type {
	case gguf.TensorF16:
		for i := 0; i+1 < len(out); i += 2 {
			shrinkF16(out[i:], shrink)
		}
	case gguf.TensorQ8_0:
		const block = 34 // f16 scale, 32 int8
		for i := 0; i+block <= len(out); i += block {
			shrinkF16(out[i:], shrink)
		}
	default:
		return nil, fmt.Errorf("draftpair: %s is %v: shrink supports F16 and Q8_0 (or -shrink -1)", t.Name, t.Type)
	}
	return out, nil
}

// shrinkF16 divides the little-endian f16 at b by 2^k, exactly (a lower
// exponent) while it stays normal, else to a signed zero.
func shrinkF16(b []byte, k int) {
	h := binary.LittleEndian.Uint16(b)
	exp := int(h>>10) & 0x1f
	switch {
	case exp == 0x1f: // Inf/NaN: left alone
	case exp > k:
		h -= uint16(k) << 10
	default:
		h &= 0x8000
	}
	binary.LittleEndian.PutUint16(b, h)
}
