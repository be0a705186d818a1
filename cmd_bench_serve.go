package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kiln-llm/kiln/server/loadgen"
	"github.com/spf13/cobra"
)

const benchServeLong = `Send streamed requests to an OpenAI-compatible server (kiln serve, vLLM,
llama.cpp, ...) under a chosen load and report throughput and latency, like
vLLM's benchmark_serving.py.

Load: --concurrency C keeps C requests in flight (a closed loop, the default
with C = 1); --request-rate R sends Poisson arrivals at R requests/s ("inf":
all at once), optionally capped by --max-concurrency. --seed fixes prompts,
lengths and arrivals.

Prompts are synthetic: random words from a fixed list of common English words,
each a single token in usual llama/BPE vocabularies, so --input-len N words is
about N tokens (plus BOS and any chat template). With --prompt-token-ids
LO:HI a prompt is instead an array of N token ids drawn from [LO, HI), which
servers evaluate as is: exactly N tokens, the same on every server (pick a
range of ordinary tokens of the model's vocabulary). Token counts and throughputs
use the prompt_tokens and completion_tokens the server reports in its final
usage chunk; a server that sends no usage is counted in text chunks (output)
and prompt words (input), and the report says so.

Latencies (ms): TTFT, time to the first chunk carrying text; ITL, the gaps
between successive text chunks; TPOT, (e2e - TTFT) / (output tokens - 1);
E2E, to data: [DONE]. Each with mean, p50, p90, p99 and sample count.

--json fields: url, endpoint, model, load (closed|poisson|burst), request_rate,
max_concurrency, seed, prompts (words | token ids LO:HI), num_requests, completed, failed, interrupted,
usage_missing, duration_s, total_input_tokens, total_output_tokens,
total_text_chunks (streamed events carrying text), total_stream_tokens (their
tokens: one each, or as llama-server's timings.predicted_n says, with
--extra-body '{"timings_per_token": true}'; ITL is then per token),
request_throughput (req/s), input_throughput, output_throughput,
total_token_throughput (tokens/s), ttft_ms, itl_ms, tpot_ms, e2el_ms
({count, mean, p50, p90, p99}), errors ([{error, count}]),
accepted_draft_tokens, rejected_draft_tokens, draft_acceptance_rate (from a
speculating server's usage completion_tokens_details: start kiln serve with
--draft-model or --speculative ngram to bench it with drafts).

The command fails only on bad arguments, when the model cannot be resolved, when
every request failed, or when interrupted (after printing what finished).`

func newBenchServeCommand() *cobra.Command {
	o := loadgen.DefaultOptions()
	var (
		endpoint, rate, ids, extra string
		asJSON                     bool
	)
	cmd := &cobra.Command{
		Use:   "serve --url URL [-n 50] [-c 4 | --request-rate R] [--input-len 128] [--output-len 64]",
		Short: "Load-test an OpenAI-compatible server: TTFT, inter-token latency, TPOT and throughput",
		Long:  benchServeLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Endpoint = loadgen.Endpoint(endpoint)
			if rate != "" {
				r, err := loadgen.ParseRate(rate)
				if err != nil {
					return err
				}
				o.RequestRate = r
			}
			if ids != "" {
				r, err := loadgen.ParseTokenRange(ids)
				if err != nil {
					return err
				}
				o.PromptIDs = r
			}
			if extra != "" {
				m, err := loadgen.ParseExtraBody(extra)
				if err != nil {
					return err
				}
				o.ExtraBody = m
			}
			if o.APIKey == "" {
				o.APIKey = os.Getenv("OPENAI_API_KEY")
			}
			o.Progress = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, runErr := loadgen.Run(ctx, o)
			if rep == nil {
				return runErr
			}
			write := rep.WriteTable
			if asJSON {
				write = rep.WriteJSON
			}
			if err := write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if runErr != nil {
				return runErr
			}
			if rep.Completed == 0 {
				return fmt.Errorf("bench serve: all %d requests failed", rep.Failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "server base URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine)")
	f.StringVar(&endpoint, "endpoint", string(o.Endpoint), "API: completions (/v1/completions) or chat (/v1/chat/completions)")
	f.StringVar(&o.Model, "model", "", "model name to request (default: the first id of GET /v1/models)")
	f.StringVar(&o.APIKey, "api-key", "", "bearer token (default: $OPENAI_API_KEY)")
	f.IntVarP(&o.NumRequests, "num-requests", "n", o.NumRequests, "requests to send")
	f.IntVarP(&o.Concurrency, "concurrency", "c", 0, "closed loop: keep this many requests in flight (default 1 unless --request-rate)")
	f.StringVar(&rate, "request-rate", "", "Poisson arrivals at this many requests/s, or inf for all at once")
	f.IntVar(&o.MaxConcurrency, "max-concurrency", 0, "with --request-rate: at most this many in flight (0: no cap)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of prompts, lengths and arrivals")
	f.IntVar(&o.InputLen, "input-len", o.InputLen, "prompt tokens, approximated by words (after --shared-prefix-len)")
	f.IntVar(&o.OutputLen, "output-len", o.OutputLen, "max_tokens per request")
	f.Float64Var(&o.InputLenRange, "input-len-range", 0, "draw input lengths uniformly in len*[1-r, 1+r]")
	f.Float64Var(&o.OutputLenRange, "output-len-range", 0, "draw output lengths uniformly in len*[1-r, 1+r]")
	f.IntVar(&o.SharedPrefixLen, "shared-prefix-len", 0, "tokens (words) common to every prompt's start, to exercise prefix caching")
	f.StringVar(&ids, "prompt-token-ids", "", "prompts as arrays of token ids drawn uniformly from LO:HI (completions only): exactly --input-len tokens on any server")
	f.BoolVar(&o.FixedOutput, "fixed-output", false, `generate exactly max_tokens ("ignore_eos": true, "min_tokens", vLLM's extensions)`)
	f.Float64Var(&o.Temperature, "temperature", 0, "sampling temperature")
	f.StringVar(&extra, "extra-body", "", `JSON object of fields added to every request, e.g. '{"timings_per_token": true}' (llama-server: per-chunk token counts)`)
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "per-request time limit, to the end of the stream")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
