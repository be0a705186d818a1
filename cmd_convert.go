package main

import (
	"fmt"

	"github.com/kiln-llm/kiln/engine/convert"
	"github.com/spf13/cobra"
)

func newConvertCommand() *cobra.Command {
	var format, tok, out string
	cmd := &cobra.Command{
		Use:   "convert --format llama2c MODEL.bin --tokenizer TOK.bin -o OUT.gguf",
		Short: "Convert a llama2.c checkpoint and tokenizer to GGUF",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "llama2c" {
				return fmt.Errorf("convert: unknown --format %q (want llama2c)", format)
			}
			if tok == "" || out == "" {
				return fmt.Errorf("convert: --tokenizer and -o are required")
			}
			if err := convert.Llama2C(args[0], tok, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "llama2c", "input format (llama2c)")
	f.StringVar(&tok, "tokenizer", "", "llama2.c tokenizer.bin")
	f.StringVarP(&out, "output", "o", "", "output GGUF file")
	return cmd
}
