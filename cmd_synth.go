package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
	"github.com/spf13/cobra"
)

func newSynthCommand() *cobra.Command {
	var presetName, typeName, out, tok string
	var seed uint64
	var layers int
	cmd := &cobra.Command{
		Use:   "synth --preset NAME --type f16|q8_0|q4_k_m|... -o FILE",
		Short: "Write a deterministic random-weight GGUF model at a real model's shape",
		Long: "synth writes random weights (≈N(0, 0.02), norms ≈1) at the shape of a real model, for\n" +
			"performance work. Presets: " + strings.Join(synth.PresetNames(), ", ") + ".\n" +
			"Without --tokenizer it writes a minimal byte-level SentencePiece vocabulary.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := synth.LookupPreset(presetName)
			if err != nil {
				return err
			}
			if layers != 0 {
				if layers < 0 || layers > p.NLayer {
					return fmt.Errorf("synth: --layers %d: want 1..%d (the preset's block count)", layers, p.NLayer)
				}
				p.NLayer = layers
			}
			// f16 and q8_0 are written as such; a quantize preset (q4_k_m, ...)
			// gives the bytes kiln quantize makes of the f16 model, each tensor
			// quantized as it is generated (no F16 file in between)
			o := synth.Options{Preset: p, Seed: seed, Tokenizer: tok, Progress: newProgress("synth " + p.Name)}
			if qp, perr := quantize.LookupPreset(typeName); perr == nil && qp.Default != native.Q8_0 {
				o.Type, o.Quantize = native.F16, &qp
			} else if o.Type, err = native.ParseType(typeName); err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("synth: -o FILE is required")
			}
			if err := native.Init(0); err != nil {
				return fmt.Errorf("kernel library: %w", err)
			}
			start := time.Now()
			if err := synth.Write(out, o); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			slog.Info("synth: done", "file", out, "bytes", st.Size(), "seconds", time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&presetName, "preset", "", "model shape: "+strings.Join(synth.PresetNames(), ", "))
	f.StringVar(&typeName, "type", "q8_0", "type of the weight matrices: f16, q8_0, or a quantize type ("+strings.Join(quantize.PresetNames(), ", ")+")")
	f.StringVarP(&out, "output", "o", "", "output GGUF file")
	f.IntVar(&layers, "layers", 0, "keep only the first N blocks of the preset (0: all): every block keeps its real shape, so per-token costs scale with N")
	f.StringVar(&tok, "tokenizer", "", "vocab GGUF (tokenizer.* copied) or HF tokenizer.json")
	f.Uint64Var(&seed, "seed", 0, "PRNG seed; same seed, same bytes")
	return cmd
}

// newProgress returns a progress callback: a carriage-return bar when
// stderr is a terminal, else a slog line every 10%.
func newProgress(what string) func(done, total int64) {
	st, err := os.Stderr.Stat()
	tty := err == nil && st.Mode()&os.ModeCharDevice != 0
	lastPct := -1
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := int(done * 100 / total)
		if pct == lastPct {
			return
		}
		lastPct = pct
		if tty {
			const width = 40
			n := pct * width / 100
			fmt.Fprintf(os.Stderr, "\r%s [%s%s] %3d%% %d/%d MiB", what, strings.Repeat("#", n), strings.Repeat(".", width-n), pct, done>>20, total>>20)
			if done >= total {
				fmt.Fprintln(os.Stderr)
			}
		} else if pct%10 == 0 {
			slog.Info(what, "percent", pct, "bytes", done, "total", total)
		}
	}
}
