package main

import (
	"fmt"

	"github.com/kiln-llm/kiln/engine/convert"
	"github.com/kiln-llm/kiln/engine/hf"
	"github.com/kiln-llm/kiln/native"
	"github.com/spf13/cobra"
)

func newConvertCommand() *cobra.Command {
	var format, tok, out string
	cmd := &cobra.Command{
		Use:   "convert (HF_DIR | --format llama2c MODEL.bin --tokenizer TOK.bin) -o OUT.gguf",
		Short: "Convert a Hugging Face model directory, or a llama2.c checkpoint and tokenizer, to GGUF",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" && hf.IsModelDir(args[0]) {
				format = "hf"
			}
			switch format {
			case "hf":
				if out == "" {
					return fmt.Errorf("convert: -o is required")
				}
				if err := native.Init(0); err != nil {
					return fmt.Errorf("kernel library: %w", err)
				}
				if err := hf.Convert(args[0], out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
				return nil
			case "", "llama2c":
			default:
				return fmt.Errorf("convert: unknown --format %q (want hf or llama2c)", format)
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
	f.StringVar(&format, "format", "", "input format: hf (a Hugging Face model directory, the default for a directory) or llama2c (the default otherwise)")
	f.StringVar(&tok, "tokenizer", "", "llama2.c tokenizer.bin")
	f.StringVarP(&out, "output", "o", "", "output GGUF file")
	return cmd
}
