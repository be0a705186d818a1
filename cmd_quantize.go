package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/kiln-llm/kiln/engine/convert"
	"github.com/kiln-llm/kiln/native"
	"github.com/spf13/cobra"
)

func newQuantizeCommand() *cobra.Command {
	var typeName string
	cmd := &cobra.Command{
		Use:   "quantize IN.gguf OUT.gguf --type q8_0",
		Short: "Convert a GGUF's F32/F16/BF16 weight matrices to Q8_0",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := native.ParseType(typeName)
			if err != nil {
				return err
			}
			if err := native.Init(0); err != nil {
				return fmt.Errorf("kernel library: %w", err)
			}
			rep, err := convert.Quantize(args[0], args[1], typ)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(rep.Kept))
			for n := range rep.Kept {
				names = append(names, n)
			}
			sort.Strings(names)
			oneD := 0
			for _, n := range names {
				if strings.HasPrefix(rep.Kept[n], "1-D") {
					oneD++ // expected; summarised below
					continue
				}
				slog.Info("quantize: kept", "tensor", n, "reason", rep.Kept[n])
			}
			slog.Info("quantize: kept 1-D tensors as they were (as llama.cpp does)", "count", oneD)
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d tensors quantized to %v, %d kept\n", args[1], len(rep.Quantized), typ, len(rep.Kept))
			return nil
		},
	}
	cmd.Flags().StringVar(&typeName, "type", "q8_0", "target type (q8_0)")
	return cmd
}
