package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/defaultmodel"
	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/server"
	"github.com/spf13/cobra"
)

// multiCharShorthands are vLLM's two-letter flags, which pflag cannot
// declare (its shorthands are one letter): they are rewritten to the long
// names before parsing.
var multiCharShorthands = map[string]string{
	"-tp": "--tensor-parallel-size",
	"-dp": "--data-parallel-size",
	"-pp": "--pipeline-parallel-size",
	"-m":  "--model", // as `kiln run` spells it
}

// expandShorthands rewrites -tp N, -tp=N (and -dp, -pp) to long flags.
func expandShorthands(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		if long, ok := multiCharShorthands[name]; ok {
			if hasVal {
				a = long + "=" + val
			} else {
				a = long
			}
		}
		out = append(out, a)
	}
	return out
}

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--model FILE] [options]",
		Short: "Serve a GGUF model over an OpenAI-compatible HTTP API",
		Long: `Serve a GGUF model over an OpenAI-compatible HTTP API (and LMDeploy's
/v1/chat/interactive, /tokenize, /detokenize, /health, /metrics, /docs).

Every option can also come from a YAML file (--config FILE; see
configs/kiln.yaml) and from KILN_<OPTION> environment variables, e.g.
KILN_PORT=9000; flags win over variables, which win over the file.
-tp, -dp and -pp are short for the parallel-size options, -m for --model.
Without --model the built-in stories260K (a 1.2 MB TinyStories llama) is
served. Other servers' option names work too: --server-name, --server-port
and --tp (LMDeploy), --model-path and --model-names (FastChat), and
snake_case spellings such as --session_len.`,
		// Parsed by hand so that -tp/-dp/-pp work as vLLM users type them.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if err := fs.Parse(repeatedModels(expandShorthands(args))); err != nil {
				return fmt.Errorf("serve: %w (see kiln serve --help)", err)
			}
			if help, _ := fs.GetBool("help"); help {
				return cmd.Help()
			}
			if fs.NArg() > 0 {
				return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
			}
			file, _ := fs.GetString("config")
			cfg, err := configs.Load(file, fs)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			slog.SetDefault(newLogger(cfg, cmd.ErrOrStderr()))
			// The first signal starts the drain; a second one stops the process at once.
			ctx, stop := drainOnSignal(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, nil)
		},
	}
	fs := cmd.Flags()
	configs.RegisterFlags(fs)
	fs.String("config", "", "YAML configuration file (see configs/kiln.yaml; default $KILN_CONFIG)")
	fs.BoolP("help", "h", false, "help for serve")
	fs.SortFlags = false
	fs.SetNormalizeFunc(normalizeServeFlag)
	return cmd
}

// repeatedModels rewrites the second and later --model flags to --models:
// `--model a.gguf --model b.gguf` serves both, as the models option does.
func repeatedModels(args []string) []string {
	out := make([]string, 0, len(args))
	seen := false
	for _, a := range args {
		if a == "--model" || strings.HasPrefix(a, "--model=") {
			if seen {
				a = "--models" + strings.TrimPrefix(a, "--model")
			}
			seen = true
		}
		out = append(out, a)
	}
	return out
}

// newLogger is the process logger in the configured format and level.
func newLogger(cfg *configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve listens at once (so /health answers 503 while the model loads),
// loads the model into cfg.DataParallelSize engine replicas, serves until
// ctx is cancelled (SIGTERM/SIGINT), then shuts down gracefully. listening,
// if not nil, receives the bound address (tests listen on port 0).
func serve(ctx context.Context, cfg *configs.Config, listening func(net.Addr)) error {
	log := slog.Default()
	builtin := cfg.Model == "" && len(cfg.Models) == 0
	if builtin {
		path, err := defaultmodel.Path("")
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		cfg.Model = path
		log.Info("serve: no --model given; serving the built-in "+defaultmodel.Name+" (MIT, from llama2.c)", "file", path)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("serve: options host and port: %w", err)
	}
	grammarLimits, grammarCache := grammarOptions(cfg)
	srv := server.New(server.Options{
		ResponseRole: cfg.ResponseRole, APIKeys: cfg.AllAPIKeys, CORSOrigins: cfg.CORSOrigins,
		BodyLimit: cfg.BodyLimitBytes, RequestTimeout: cfg.RequestTimeout, ReadTimeout: cfg.ReadTimeout, Logger: log, Version: version,
		ToolCallParser: cfg.ToolCallParser, EnableAutoToolChoice: cfg.EnableAutoToolChoice,
		ReasoningParser: cfg.ReasoningParser, ResponseStoreEntries: cfg.ResponseStoreEntries,
		GrammarLimits: grammarLimits, GrammarCacheBytes: grammarCache,
	})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serve: listening", "addr", ln.Addr().String(), "version", version, "model", cfg.Model,
		"threads", cfg.Threads(), "replicas", cfg.DataParallelSize, "max_num_seqs", cfg.MaxNumSeqs,
		"max_batch_tokens", cfg.MaxBatchTokens, "prefix_caching", cfg.EnablePrefixCaching, "prefix_cache_dir", cfg.PrefixCacheDir, "api_keys", len(cfg.AllAPIKeys))
	if listening != nil {
		listening(ln.Addr())
	}
	if specs := cfg.ServedModels(); len(specs) > 1 {
		return serveRouted(ctx, cfg, srv, serveErr, log)
	} else if cfg.Model == "" {
		cfg = cfg.ForModel(specs[0]) // one model, given in the models list
	}

	sp, err := openSpill(cfg, log)
	if err != nil {
		shutdownNow(srv)
		return err
	}
	defer sp.close() // after st.close: the engines hand their pools over first
	st, err := startEngines(ctx, cfg, sp, log)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx, 0)
		return err
	}
	defer st.close()
	srv.PrepareGrammars(st.model)
	srv.SetModel(st.model)
	log.Info("serve: ready", "model", st.model.ID, "replicas", len(st.engines), "threads", native.Threads(),
		"context", st.model.ContextLen, "kv_blocks_per_replica", st.blocks, "kv_type", st.model.KVCacheDtype,
		"kv_bytes_per_token", st.model.KVBytesPerToken, "kv_tokens_per_replica", st.blocks*cfg.BlockSize,
		"speculative", cfg.Speculative, "draft_model", cfg.DraftModel)
	if url := localURL(ln.Addr()); isTerminal(os.Stderr) && cfg.LogFormat == "text" {
		printBanner(os.Stderr, url, st.model.ID, builtin)
	} else {
		log.Info("serve: chat page at "+url+"/, API docs at "+url+"/docs", "try", "curl "+url+`/v1/completions -d '{"prompt":"Once upon a time","max_tokens":32}'`)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("serve: shutting down", "grace", cfg.ShutdownGracePeriod)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGracePeriod+10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx, cfg.ShutdownGracePeriod)
	for _, e := range st.engines {
		e.Close()
	}
	closePools(st.pools)
	st.pools = nil
	log.Info("serve: stopped")
	return err
}

// The engine's executor is what the scheduler consumes.
var _ control.WindowedExecutor = (*model.Executor)(nil)

// engines are the loaded replicas.
type engines struct {
	model   *server.Model
	engines []*control.Engine
	models  []*model.Model
	pools   []*native.Pool // one per replica with -dp > 1, each bound by its engine's loop
	blocks  int
	bytes   int64 // the weights file plus every replica's K/V pool
}

func (st *engines) close() {
	for _, e := range st.engines {
		e.Close()
	}
	for _, m := range st.models {
		_ = m.Close()
	}
	closePools(st.pools) // after the engines: their loops have unbound
	st.pools = nil
}

// startEngines initialises the kernels, reads the model file through once
// (a progress bar on a terminal, log lines otherwise: the first request
// then does not page the weights in), and builds each replica: its own
// Model (scratch buffers; the weights are one shared file mapping), K/V
// pool and scheduler. On error whatever was built is released.
func startEngines(ctx context.Context, cfg *configs.Config, sp *prefixSpill, log *slog.Logger) (_ *engines, err error) {
	if err := initKernels(cfg, log); err != nil {
		return nil, err
	}
	return loadEngines(ctx, cfg, sp, log)
}

// initKernels pins the process to the configured CPUs and starts the
// kernel library's threads, once for every model served.
func initKernels(cfg *configs.Config, log *slog.Logger) error {
	if err := pinCPUs(cfg.DeviceCPUs); err != nil {
		log.Warn("serve: devices: could not pin threads", "err", err)
	}
	if err := native.Init(cfg.Threads()); err != nil {
		return fmt.Errorf("serve: kernel library: %w", err)
	}
	return nil
}

// loadEngines loads cfg.Model into its replicas (startEngines after the
// kernels are up); sp (may be nil) is where their prefix caches spill.
func loadEngines(ctx context.Context, cfg *configs.Config, sp *prefixSpill, log *slog.Logger) (_ *engines, err error) {
	progress := loadProgress("loading "+filepath.Base(cfg.Model), os.Stderr, isTerminal(os.Stderr), log, time.Now)
	if err := warmModel(ctx, cfg.Model, progress); err != nil {
		return nil, fmt.Errorf("serve: option model: %w", err)
	}
	if cfg.DraftModel != "" {
		progress := loadProgress("loading draft "+filepath.Base(cfg.DraftModel), os.Stderr, isTerminal(os.Stderr), log, time.Now)
		if err := warmModel(ctx, cfg.DraftModel, progress); err != nil {
			return nil, fmt.Errorf("serve: option draft_model: %w", err)
		}
	}
	st := &engines{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	emb := &embedder{}
	budget, option := kvBudget(cfg) // once: each replica's pool takes the same share
	var tok *tokenizer.Tokenizer
	var tmpl server.ChatTemplate
	if st.pools, err = replicaPools(cfg, log); err != nil {
		return nil, err
	}
	for i := range cfg.DataParallelSize {
		m, err := loadModel(cfg.Model, model.WithMaxBatchTokens(cfg.MaxBatchTokens), model.WithRepack(cfg.RepackWeights))
		if err != nil {
			return nil, fmt.Errorf("serve: option model: %w", err)
		}
		st.models = append(st.models, m)
		if i == 0 {
			if tok, err = modelTokenizer(m); err != nil {
				return nil, fmt.Errorf("serve: option model: %s: %w", cfg.Model, err)
			}
			if tmpl, err = chatTemplate(cfg, m, tok, log); err != nil {
				return nil, err
			}
		}
		var draft *model.Model
		if cfg.DraftModel != "" {
			if draft, err = loadDraftModel(cfg, m, tok); err != nil {
				return nil, err
			}
			st.models = append(st.models, draft)
		}
		var pool *native.Pool
		if i < len(st.pools) {
			pool = st.pools[i]
		}
		e, blocks, draftBytes, err := newReplica(cfg, m, draft, tok, budget, option, bindPool(pool, i, log), sp)
		if err != nil {
			return nil, err
		}
		st.bytes += draftBytes
		st.engines = append(st.engines, e)
		st.blocks = blocks
		kvType, _ := native.ParseType(cfg.KVCacheDtype)
		st.bytes += int64(blocks) * m.KVBlockBytes(cfg.BlockSize, kvType)
		emb.models, emb.pools = append(emb.models, m), append(emb.pools, pool)
	}
	backends := make([]control.Backend, len(st.engines))
	for i, e := range st.engines {
		backends[i] = e
	}
	var b control.Backend = st.engines[0]
	if len(backends) > 1 {
		b = control.NewReplicas(backends...)
	}
	name, aliases := strings.TrimSuffix(filepath.Base(cfg.Model), ".gguf"), []string(nil)
	if len(cfg.ModelNames) > 0 {
		name, aliases = cfg.ModelNames[0], cfg.ModelNames[1:]
	}
	created := time.Now().Unix()
	if fi, err := os.Stat(cfg.Model); err == nil {
		created = fi.ModTime().Unix()
		st.bytes += fi.Size() // one mapping, shared by the replicas
	}
	if fi, err := os.Stat(cfg.DraftModel); cfg.DraftModel != "" && err == nil {
		st.bytes += fi.Size()
	}
	st.model = &server.Model{ID: name, Aliases: aliases, StrictName: cfg.StrictModelName, Root: cfg.Model, Created: created, ContextLen: st.engines[0].Config().SessionLen, Tokenizer: tok, Backend: b, Embedder: emb, ChatTemplate: tmpl}
	st.model.KVCacheDtype, st.model.KVBytesPerToken = kvCacheFacts(cfg, st.models[0], log)
	return st, nil
}

// kvCacheFacts is the K/V cache type and its bytes per token of context
// for m (every layer's K and V), which the start-up log and /metrics state.
// A q8_0 cache whose heads are not a multiple of 32 values wide pads each
// row to whole blocks; when that leaves it no smaller than f16 the log
// says so (it still works, it just saves nothing).
func kvCacheFacts(cfg *configs.Config, m *model.Model, log *slog.Logger) (string, int64) {
	kvType, _ := native.ParseType(cfg.KVCacheDtype) // validated with the config
	perTok := m.KVBytesPerToken(kvType)
	if kvType == native.Q8_0 && m.Config.HeadDim%native.QK8_0 != 0 {
		f16 := m.KVBytesPerToken(native.F16)
		log.Warn("serve: kv_cache_dtype q8_0: head_dim is not a multiple of 32, so each K/V row is padded to whole Q8_0 blocks",
			"head_dim", m.Config.HeadDim, "bytes_per_token", perTok, "f16_bytes_per_token", f16)
	}
	return cfg.KVCacheDtype, perTok
}

// kvBudget is each replica's K/V pool budget in bytes and the option it
// comes from: kv_cache_size if set, else cache_max_entry_count of the
// memory available now, shared by the replicas.
func kvBudget(cfg *configs.Config) (int64, string) {
	if cfg.KVCacheBytes != 0 {
		return cfg.KVCacheBytes, "kv_cache_size"
	}
	return control.KVBudget(control.AvailableMemory(), cfg.CacheMaxEntryCount, cfg.DataParallelSize), "cache_max_entry_count"
}

// newReplica builds one replica's scheduler over m: its K/V pool sized by
// control's policy from budget bytes (named by option in errors), and the
// executor running it, with draft's executor and K/V pool when a draft
// model is given (its pool's bytes are returned); bind (may be nil) runs
// on its step loop's thread; sp (may be nil) takes the prefix cache's
// evicted blocks.
func newReplica(cfg *configs.Config, m, draft *model.Model, tok *tokenizer.Tokenizer, budget int64, option string, bind func() func(), sp *prefixSpill) (*control.Engine, int, int64, error) {
	kvType, _ := native.ParseType(cfg.KVCacheDtype) // validated with the config
	pool, err := control.SizeKVPool(control.KVPoolSpec{
		Budget: budget, BlockSize: cfg.BlockSize, BlockBytes: m.KVBlockBytes(cfg.BlockSize, kvType),
		SessionLen: cfg.SessionLen, ModelContext: m.Config.NCtx, MaxNumSeqs: cfg.MaxNumSeqs,
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("serve: option %s: %w; raise %s or lower session_len", option, err, option)
	}
	exec, err := model.NewExecutor(m, pool.Blocks, cfg.BlockSize, kvType)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("serve: %w", err)
	}
	var draftExec control.Executor
	var draftBytes int64
	if draft != nil {
		x, n, err := draftExecutor(cfg, draft, pool.Blocks)
		if err != nil {
			return nil, 0, 0, err
		}
		draftExec, draftBytes = x, n
	}
	store, err := sp.store(m, exec)
	if err != nil {
		return nil, 0, 0, err
	}
	e, err := control.New(exec, tok, control.Config{
		MaxBatchTokens: cfg.MaxBatchTokens, MaxNumSeqs: cfg.MaxNumSeqs, MaxQueue: cfg.MaxQueue,
		SessionLen: pool.SessionLen, PrefixCaching: cfg.EnablePrefixCaching,
		MaxITL: time.Duration(cfg.MaxITLMs) * time.Millisecond, Speculative: speculativeConfig(cfg, draftExec),
		BindThread: bind, Spill: store,
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("serve: %w", err)
	}
	return e, pool.Blocks, draftBytes, nil
}

// chatTemplate picks the chat template: --chat-template (a built-in name
// or a file), else the model's tokenizer.chat_template, else nil (the
// server's ChatML, as llama.cpp falls back to it). A template that does not
// parse is a start-up error naming its source.
func chatTemplate(cfg *configs.Config, m *model.Model, tok *tokenizer.Tokenizer, log *slog.Logger) (server.ChatTemplate, error) {
	var t *chat.Template
	var err error
	switch {
	case cfg.ChatTemplate != "" && slices.Contains(chat.BuiltinNames(), cfg.ChatTemplate):
		t, err = chat.Builtin(cfg.ChatTemplate)
	case cfg.ChatTemplate != "":
		src, rerr := os.ReadFile(cfg.ChatTemplate)
		if rerr != nil {
			return nil, fmt.Errorf("serve: option chat_template (--chat-template, KILN_CHAT_TEMPLATE): %w", rerr)
		}
		t, err = chat.Parse(filepath.Base(cfg.ChatTemplate), string(src))
	default:
		t, err = chat.FromGGUF(m.File())
		if errors.Is(err, chat.ErrNoTemplate) {
			log.Info("serve: the model has no chat template; chat prompts use ChatML")
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("serve: option chat_template (--chat-template, KILN_CHAT_TEMPLATE): %w", err)
	}
	j := chat.NewRenderer(t, tok)
	log.Info("serve: chat template", "name", t.Name(), "end_of_turn", j.EndOfTurn())
	return j, nil
}

// warmFile reads path once, reporting progress, so the weights are in the
// page cache before the first request. Like model loading it refuses at
// once anything but a regular file (/dev/zero would read forever, a FIFO
// would block).
func warmFile(ctx context.Context, path string, progress func(done, total int64)) error {
	f, st, err := gguf.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	var done int64
	for done < st.Size() { // the size at open: a file still growing is not read forever
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(buf)
		done += int64(n)
		progress(min(done, st.Size()), st.Size())
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
