package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/native"
	"github.com/spf13/cobra"
)

func newQuantizeCommand() *cobra.Command {
	var typeName string
	cmd := &cobra.Command{
		Use:   "quantize IN.gguf OUT.gguf --type q4_k_m",
		Short: "Quantize a GGUF's F32/F16/BF16 weight matrices as llama-quantize does",
		Long: "quantize writes the file llama-quantize writes for the same input and type (no importance\n" +
			"matrix): the same tensor types per tensor, metadata and quantized bytes. Types: " +
			strings.Join(quantize.PresetNames(), ", ") + ".",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := quantize.LookupPreset(typeName)
			if err != nil {
				return err
			}
			if err := native.Init(0); err != nil {
				return fmt.Errorf("kernel library: %w", err)
			}
			rep, err := quantize.File(args[0], args[1], p)
			if err != nil {
				return err
			}
			types := make([]native.Type, 0, len(rep.Counts))
			for t := range rep.Counts {
				types = append(types, t)
			}
			sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
			var parts []string
			for _, t := range types {
				parts = append(parts, fmt.Sprintf("%d %v", rep.Counts[t], t))
			}
			slog.Info("quantize: done", "file", args[1], "type", p.Name)
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, tensors: %s\n", args[1], p.Name, strings.Join(parts, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&typeName, "type", "q8_0", "target type: "+strings.Join(quantize.PresetNames(), ", "))
	return cmd
}
