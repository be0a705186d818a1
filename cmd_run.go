package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/kiln-llm/kiln/engine/generate"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
	"github.com/spf13/cobra"
)

// runFlags are `kiln run`'s options, named as llama.cpp's CLI names them
// where it has the same option.
type runFlags struct {
	model, prompt, promptFile, kvType string
	threads, ctx, batch               int
	quiet                             bool
	gen                               generate.Options
}

func newRunCommand() *cobra.Command {
	f := runFlags{gen: generate.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "run --model FILE -p PROMPT [-n N] [--temp T --top-p P --seed S]",
		Short: "Continue a prompt with a GGUF model, streaming the text and reporting tokens/s",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return runGenerate(ctx, &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.model, "model", "m", "", "GGUF model file")
	fl.StringVarP(&f.prompt, "prompt", "p", "", "prompt text (BOS added as the model's metadata says)")
	fl.StringVarP(&f.promptFile, "file", "f", "", "read the prompt from this file instead")
	fl.IntVarP(&f.gen.MaxTokens, "n-predict", "n", f.gen.MaxTokens, "tokens to generate at most")
	fl.IntVarP(&f.threads, "threads", "t", 0, "kernel threads (0: one per CPU)")
	fl.IntVarP(&f.ctx, "ctx-size", "c", 0, "context size in tokens (0: prompt + n, capped at the model's)")
	fl.IntVarP(&f.batch, "batch-size", "b", 512, "most prompt tokens per forward pass")
	fl.StringVar(&f.kvType, "kv-cache-dtype", "f16", "K/V cache type: f16, f32 or q8_0 (34 bytes per 32 values, about half of f16)")
	fl.StringVar(&f.kvType, "kv-type", "f16", "the same as --kv-cache-dtype (its earlier name)")
	_ = fl.MarkHidden("kv-type")
	fl.BoolVar(&f.gen.ParseSpecial, "special", f.gen.ParseSpecial, "parse control-token texts in the prompt (e.g. <|eot_id|>)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the generated text, no timings")
	s := &f.gen.Sample
	fl.Float32Var(&s.Temperature, "temp", 0.8, "temperature (0: greedy)")
	fl.IntVar(&s.TopK, "top-k", 40, "top-k (0: off)")
	fl.Float32Var(&s.TopP, "top-p", 0.95, "top-p (1: off)")
	fl.Float32Var(&s.MinP, "min-p", 0.05, "min-p (0: off)")
	fl.Float32Var(&s.TypicalP, "typical", 1, "locally typical sampling p (1: off)")
	fl.Float32Var(&s.RepetitionPenalty, "repeat-penalty", 1, "repetition penalty (1: off)")
	fl.IntVar(&s.PenaltyLastN, "repeat-last-n", 64, "penalty window in tokens (-1: all, 0: off)")
	fl.Float32Var(&s.PresencePenalty, "presence-penalty", 0, "presence penalty (0: off)")
	fl.Float32Var(&s.FrequencyPenalty, "frequency-penalty", 0, "frequency penalty (0: off)")
	fl.Uint64Var(&s.Seed, "seed", 0, "sampling seed (0: random, printed)")
	return cmd
}

// runGenerate loads the model, streams the continuation to out and the
// timings to errw, as llama.cpp's CLI reports them.
func runGenerate(ctx context.Context, f *runFlags, out, errw io.Writer) error {
	if f.model == "" {
		return errors.New("run: --model FILE is required")
	}
	prompt := f.prompt
	if f.promptFile != "" {
		if f.prompt != "" {
			return errors.New("run: give -p PROMPT or -f FILE, not both")
		}
		b, err := os.ReadFile(f.promptFile)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		prompt = string(b)
	}
	kv, err := native.ParseType(f.kvType)
	if err != nil {
		return fmt.Errorf("run: --kv-cache-dtype: %w", err)
	}
	f.gen.KVType, f.gen.CtxLen = kv, f.ctx
	if f.gen.Sample.Seed == 0 {
		f.gen.Sample.Seed = uint64(time.Now().UnixNano())
	}
	if err := f.gen.Validate(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := native.Init(f.threads); err != nil {
		return fmt.Errorf("run: kernel library: %w", err)
	}
	start := time.Now()
	m, err := loadModel(f.model, model.WithMaxBatchTokens(f.batch))
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer m.Close()
	tok, err := modelTokenizer(m)
	if err != nil {
		return fmt.Errorf("run: %s: %w", f.model, err)
	}
	if !f.quiet {
		c := m.Config
		slog.Info("run: model loaded", "file", f.model, "arch", c.Arch, "layers", c.NLayer, "embd", c.NEmbd,
			"vocab", c.NVocab, "threads", native.Threads(), "kernels", native.CurrentISA().String(),
			"seed", f.gen.Sample.Seed, "seconds", time.Since(start).Seconds())
	}
	fmt.Fprint(out, prompt)
	st, err := generate.Generate(ctx, m, tok, prompt, f.gen, func(s string) { fmt.Fprint(out, s) })
	fmt.Fprintln(out)
	if !f.quiet {
		fmt.Fprintf(errw, "prompt: %d tokens in %.3f s (%.2f tokens/s)\n", st.PromptTokens, st.PrefillTime.Seconds(), st.PrefillTPS())
		fmt.Fprintf(errw, "decode: %d tokens in %.3f s (%.2f tokens/s), stopped by %s\n", st.DecodeTokens, st.DecodeTime.Seconds(), st.DecodeTPS(), stopText(st, err))
	}
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C: the text so far and the timings are the answer
	}
	return err
}

func stopText(st generate.Stats, err error) string {
	if err != nil {
		return err.Error()
	}
	return string(st.Stop)
}
