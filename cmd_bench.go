package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/modelbench"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/native/bench"
	"github.com/spf13/cobra"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks measured against this machine's own ceilings",
	}
	cmd.AddCommand(newBenchKernelsCommand(), newBenchModelCommand())
	cmd.AddCommand(newBenchServeCommand())
	return cmd
}

// benchReport is a benchmark result that prints as a table or as JSON.
type benchReport interface {
	WriteJSON(w io.Writer) error
	WriteTable(w io.Writer) error
}

// writeReport prints r to w in the format the --json flag chose.
func writeReport(w io.Writer, r benchReport, asJSON bool) error {
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteTable(w)
}

func newBenchModelCommand() *cobra.Command {
	o := modelbench.DefaultOptions()
	var (
		path, threads, kvType string
		asJSON                bool
		repack                = true
		draft                 = draftBenchOptions{Tokens: 4, Seed: 1}
	)
	cmd := &cobra.Command{
		Use:   "model --model FILE [-p 512] [-n 128] [-t 1,2]",
		Short: "Benchmark prefill and decode of a GGUF model like llama-bench, against the bandwidth roofline and FMA peak",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("bench model: --model FILE is required")
			}
			var err error
			if o.Threads, err = bench.ParseInts(threads, "--threads"); err != nil {
				return err
			}
			if o.KVType, err = native.ParseType(kvType); err != nil {
				return fmt.Errorf("bench model: --kv-cache-dtype: %w", err)
			}
			if draft.Draft != "" {
				if draft.Tokens < 1 || draft.Tokens > 16 || o.Gen < 2 || o.Reps < 1 {
					return fmt.Errorf("bench model: --num-speculative-tokens %d (want 1..16), -n %d (want >= 2), -r %d (want >= 1)", draft.Tokens, o.Gen, o.Reps)
				}
				draft.Model, draft.Prompt, draft.Gen, draft.Reps, draft.Threads, draft.KVType = path, o.Prompt, o.Gen, o.Reps, o.Threads, o.KVType
				draft.Progress = cmd.ErrOrStderr()
				rep, err := runDraftBench(cmd.Context(), draft)
				if err != nil {
					return err
				}
				return writeReport(cmd.OutOrStdout(), rep, asJSON)
			}
			m, err := model.Load(path, model.WithMaxBatchTokens(max(o.Prompt, min(o.Depth, 512), 1)), model.WithRepack(repack))
			if err != nil {
				return err
			}
			defer m.Close()
			o.Progress = cmd.ErrOrStderr()
			rep, err := modelbench.Run(m, o)
			if err != nil {
				return err
			}
			return writeReport(cmd.OutOrStdout(), rep, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&path, "model", "m", "", "GGUF model file")
	f.IntVarP(&o.Prompt, "n-prompt", "p", o.Prompt, "prompt tokens of the prefill test (0: skip)")
	f.IntVarP(&o.Gen, "n-gen", "n", o.Gen, "tokens of the decode test (0: skip)")
	f.IntVarP(&o.Depth, "n-depth", "d", o.Depth, "tokens already in the context before each test (prefilled once, untimed): attention's cost at long context")
	f.StringVarP(&threads, "threads", "t", "1,2", "thread counts, comma separated")
	f.IntVarP(&o.Reps, "repetitions", "r", o.Reps, "repetitions per test (the median is reported)")
	f.StringVar(&kvType, "kv-cache-dtype", "f16", "K/V cache type: f16, f32 or q8_0")
	f.StringVar(&kvType, "kv-type", "f16", "the same as --kv-cache-dtype (its earlier name)")
	_ = f.MarkHidden("kv-type")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&repack, "repack", true, "repack weights at load into the layout this CPU's kernels read fastest (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K and IQ4_XS on AVX2 and AVX-512); false: use them in place")
	f.StringVar(&draft.Draft, "draft-model", "", "instead: greedy decode of -n tokens after the -p token prompt on one stream through the scheduler, without and with this draft model (speculative decoding), alternated -r times")
	f.IntVar(&draft.Tokens, "num-speculative-tokens", draft.Tokens, "with --draft-model: draft tokens per step (1..16)")
	f.StringVar(&draft.Text, "prompt", "", "with --draft-model: a prompt text instead of -p random tokens")
	return cmd
}

func newBenchKernelsCommand() *cobra.Command {
	o := bench.DefaultOptions()
	var (
		asJSON                          bool
		shapes, types, ms, threads, isa string
	)
	cmd := &cobra.Command{
		Use:   "kernels",
		Short: "Benchmark the matmul kernels at real model shapes against read bandwidth, FMA peak and gorgonia",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Shapes, err = bench.ParseShapes(shapes); err != nil {
				return err
			}
			if o.Ms, err = bench.ParseInts(ms, "--m"); err != nil {
				return err
			}
			if o.Threads, err = bench.ParseInts(threads, "--threads"); err != nil {
				return err
			}
			o.Types = nil
			for _, name := range strings.Split(types, ",") {
				name = strings.TrimSpace(name)
				t, err := native.ParseKernelType(name) // file types and the repacked ones
				if err != nil {
					return fmt.Errorf("--types: %w", err)
				}
				o.Types = append(o.Types, t)
			}
			if isa != "" {
				v, err := native.ParseISA(isa)
				if err != nil {
					return fmt.Errorf("--isa: %w", err)
				}
				if err := native.SetISA(v); err != nil {
					return fmt.Errorf("--isa %s: %w", isa, err)
				}
				// RunKernels re-initialises the library per thread count, which
				// picks the variant from $KILN_ISA again: keep the choice there
				// for the run (before, --isa was lost at the first thread count).
				prev, had := os.LookupEnv("KILN_ISA")
				os.Setenv("KILN_ISA", v.String())
				defer func() {
					if had {
						os.Setenv("KILN_ISA", prev)
					} else {
						os.Unsetenv("KILN_ISA")
					}
				}()
			}
			o.Progress = cmd.ErrOrStderr()
			rep, err := bench.RunKernels(o)
			if err != nil {
				return err
			}
			return writeReport(cmd.OutOrStdout(), rep, asJSON)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.StringVar(&shapes, "shapes", "all", "weight shapes NxK, comma separated, or all (SmolLM2-135M and Llama-3.2-1B projections)")
	f.StringVar(&types, "types", "f32,f16,bf16,q8_0,q8_0_r16", "weight types: f32, f16, bf16, q8_0, the repacked types (q8_0_r16, q4_0_r16, q5_0_r16, q4_k_r16, q5_k_r16, q6_k_r16, iq4_xs_r16, iq4_nl_r16, q4_1_r16, q5_1_r16: weights repacked as a model load does) and the quantized types (q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_xs); a type whose block does not divide a shape's k skips it")
	f.StringVar(&ms, "m", "1,128", "batch rows (1 = decode GEMV, 128 = prefill GEMM)")
	f.StringVar(&threads, "threads", "1,2", "thread counts")
	f.StringVar(&isa, "isa", "", "force a kernel variant (scalar, avx2, avx512, amx); default: best, or $KILN_ISA")
	f.DurationVar(&o.MinTime, "min-time", o.MinTime, "time budget per row (the median run is reported)")
	f.IntVar(&o.ColdBytes, "cold-bytes", o.ColdBytes, "rotate weight copies totalling this many bytes so reads come from DRAM")
	f.BoolVar(&o.HugePages, "huge-pages", o.HugePages, "weights on transparent huge pages as a loaded model holds them (false: 4 KB pages of the Go heap)")
	f.BoolVar(&o.Baseline, "baseline", true, "also time gorgonia.org/tensor (pure Go) as the baseline")
	return cmd
}
