package main

import (
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/native/bench"
	"github.com/spf13/cobra"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks measured against this machine's own ceilings",
	}
	cmd.AddCommand(newBenchKernelsCommand())
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
				t, err := native.ParseType(strings.TrimSpace(name))
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
			}
			o.Progress = cmd.ErrOrStderr()
			rep, err := bench.RunKernels(o)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.StringVar(&shapes, "shapes", "all", "weight shapes NxK, comma separated, or all (SmolLM2-135M and Llama-3.2-1B projections)")
	f.StringVar(&types, "types", "f32,f16,bf16,q8_0", "weight types")
	f.StringVar(&ms, "m", "1,128", "batch rows (1 = decode GEMV, 128 = prefill GEMM)")
	f.StringVar(&threads, "threads", "1,2", "thread counts")
	f.StringVar(&isa, "isa", "", "force a kernel variant (scalar, avx2, avx512); default: best, or $KILN_ISA")
	f.DurationVar(&o.MinTime, "min-time", o.MinTime, "time budget per row (the median run is reported)")
	f.IntVar(&o.ColdBytes, "cold-bytes", o.ColdBytes, "rotate weight copies totalling this many bytes so reads come from DRAM")
	f.BoolVar(&o.Baseline, "baseline", true, "also time gorgonia.org/tensor (pure Go) as the baseline")
	return cmd
}
