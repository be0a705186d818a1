package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/kiln-llm/kiln/control"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// initMetrics builds the server's own registry (no global state): the
// engine's gauges, counters and histograms read at scrape time, HTTP
// request counts (a client that went away before its response counts as
// status 499, never 5xx), streams cut by their client, and the Go
// (go_goroutines, ...) and process collectors.
func (s *Server) initMetrics() {
	s.reg = prometheus.NewRegistry()
	s.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kiln_http_requests_total", Help: "HTTP requests by method, route and status.",
	}, []string{"method", "route", "status"})
	s.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kiln_http_request_duration_seconds", Help: "Time to a response's headers (a stream's body continues after) by route.",
		Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120},
	}, []string{"route"})
	s.streamGone = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kiln_http_stream_disconnects_total",
		Help: "Streamed responses whose client went away before the end, by route (their status, sent with the headers, stays 200).",
	}, []string{"route"})
	s.reg.MustRegister(s.httpReqs, s.httpDur, s.streamGone, &engineCollector{s: s}, &replicaCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// handleMetrics is GET /metrics in Prometheus's text format.
func (s *Server) handleMetrics(c *fiber.Ctx) error {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))(c)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("kiln_"+name, help, labels, nil)
}

var (
	descRunning   = desc("num_requests_running", "Sequences in the running batch.")
	descWaiting   = desc("num_requests_waiting", "Requests waiting for admission.")
	descSessions  = desc("sessions", "Interactive sessions holding K/V.")
	descKVBlocks  = desc("kv_blocks", "K/V cache blocks by state (used: in a sequence; cached: reusable prefix; free).", "state")
	descKVUsage   = desc("kv_cache_usage_ratio", "Fraction of K/V blocks in use by sequences.")
	descHitRate   = desc("prefix_cache_hit_rate", "Prompt tokens found in the prefix cache over prompt tokens looked up.")
	descPrefixQ   = desc("prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.")
	descPrefixH   = desc("prefix_cache_hits_total", "Prompt tokens found in the prefix cache.")
	descPromptTok = desc("prompt_tokens_total", "Prompt tokens of admitted requests.")
	descGenTok    = desc("generation_tokens_total", "Generated tokens.")
	descFinished  = desc("request_finished_total", "Finished requests by finish reason.", "finished_reason")
	descPreempt   = desc("preemptions_total", "Sequences preempted for K/V space and recomputed.")
	descSteps     = desc("steps_total", "Scheduler steps (forward passes).")
	descDraftTok  = desc("spec_decode_num_draft_tokens_total", "Speculative draft tokens verified.")
	descAccTok    = desc("spec_decode_num_accepted_tokens_total", "Speculative draft tokens accepted (their ratio to drafts is the acceptance rate).")
	descSpillW    = desc("prefix_cache_spill_writes_total", "Evicted prefix-cache blocks written to prefix_cache_dir.")
	descSpillWB   = desc("prefix_cache_spill_written_bytes_total", "Bytes of the block files written to prefix_cache_dir.")
	descSpillDrop = desc("prefix_cache_spill_drops_total", "Evicted prefix-cache blocks not kept: the writer's queue was full, or spilling stopped after a failed write.")
	descSpillR    = desc("prefix_cache_spill_reads_total", "Spilled prefix-cache blocks read back (from RAM or prefix_cache_dir) for a request; kiln_prefix_cache_spill_hits_total counts the prompt tokens they spared.")
	descSpillRB   = desc("prefix_cache_spill_read_bytes_total", "Bytes of the spilled blocks loaded back.")
	descSpillHit  = desc("prefix_cache_spill_hits_total", "Prompt tokens whose K/V was loaded from the spill instead of computed (also in cached_tokens).")
	descSpillErr  = desc("prefix_cache_spill_errors_total", "Spilled block files refused (corrupt, truncated, of another model or shape, unreadable: each deleted) and failed writes.")
	descSpecDraft = desc("spec_decode_method_draft_tokens_total", "Speculative draft tokens verified, by method (ngram: prompt lookup; draft: a draft model).", "method")
	descSpecAcc   = desc("spec_decode_method_accepted_tokens_total", "Speculative draft tokens accepted, by method.", "method")
	descDraftFwd  = desc("spec_decode_draft_model_forwards_total", "Forward passes of the draft model.")
	descDraftFail = desc("spec_decode_draft_model_failures_total", "Steps whose drafts were dropped because a draft model forward failed (their rows decoded without drafts).")
	descDraftKV   = desc("spec_decode_draft_kv_blocks", "The draft model's K/V blocks by state.", "state")
	descTTFT      = desc("time_to_first_token_seconds", "Time from submission to the first generated token.")
	descITL       = desc("inter_token_latency_seconds", "Time between generated tokens of a sequence.")
	descE2E       = desc("e2e_request_latency_seconds", "Time from submission to finish.")
	descQueue     = desc("request_queue_time_seconds", "Time from submission to first scheduling.")
	engineDescs   = []*prometheus.Desc{descRunning, descWaiting, descSessions, descKVBlocks, descKVUsage, descHitRate, descPrefixQ, descPrefixH,
		descPromptTok, descGenTok, descFinished, descPreempt, descSteps, descDraftTok, descAccTok,
		descSpillW, descSpillWB, descSpillDrop, descSpillR, descSpillRB, descSpillHit, descSpillErr,
		descSpecDraft, descSpecAcc, descDraftFwd, descDraftFail, descDraftKV, descTTFT, descITL, descE2E, descQueue}
)

// The names routers read, as vLLM exports them (the Kubernetes Gateway
// API Inference Extension's model server protocol: queue depth, running
// requests, K/V usage, LoRA adapters), per served model.
func vllmDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("vllm:"+name, help, append([]string{"model_name"}, labels...), nil)
}

var (
	descVLLMWaiting  = vllmDesc("num_requests_waiting", "Requests waiting for admission (kiln_num_requests_waiting).")
	descVLLMRunning  = vllmDesc("num_requests_running", "Sequences in the running batch (kiln_num_requests_running).")
	descVLLMKVUsage  = vllmDesc("kv_cache_usage_perc", "Fraction of K/V blocks in use, 1 is full (kiln_kv_cache_usage_ratio).")
	descVLLMGPUUsage = vllmDesc("gpu_cache_usage_perc", "The same as vllm:kv_cache_usage_perc, under its older name.")
	descVLLMLoRA     = vllmDesc("lora_requests_info", "LoRA adapters running and waiting (kiln serves none); the value is the scrape's Unix time.",
		"running_lora_adapters", "waiting_lora_adapters", "max_lora")
	vllmDescs = []*prometheus.Desc{descVLLMWaiting, descVLLMRunning, descVLLMKVUsage, descVLLMGPUUsage, descVLLMLoRA}

	descKVBytesPerToken = prometheus.NewDesc("kiln_kv_cache_bytes_per_token",
		"K/V cache bytes one token of context takes (K and V, every layer), by model and cache element type.",
		[]string{"model_name", "dtype"}, nil)
)

// servedModels are the models serving now: the one model, or the
// router's loaded ones.
func (s *Server) servedModels() []*Model {
	if r := s.router.Load(); r != nil {
		return r.Loaded()
	}
	if m := s.model.Load(); m != nil {
		return []*Model{m}
	}
	return nil
}

// kvUsage is the fraction of mt's K/V blocks in use.
func kvUsage(mt control.Metrics) float64 {
	if mt.KV.TotalBlocks == 0 {
		return 0
	}
	return float64(mt.KV.UsedBlocks) / float64(mt.KV.TotalBlocks)
}

// engineCollector reads control.Metrics at each scrape.
type engineCollector struct{ s *Server }

// Describe implements prometheus.Collector.
func (e *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range engineDescs {
		ch <- d
	}
	for _, d := range vllmDescs {
		ch <- d
	}
	ch <- descKVBytesPerToken
}

// Collect implements prometheus.Collector; nothing while no model serves.
// kiln's own metrics sum over the served models; the vLLM names are per
// model.
func (e *engineCollector) Collect(ch chan<- prometheus.Metric) {
	models := e.s.servedModels()
	r := e.s.router.Load()
	if len(models) == 0 && r == nil {
		return
	}
	now := float64(time.Now().Unix())
	for _, m := range models {
		mt := m.Backend.Metrics()
		ch <- prometheus.MustNewConstMetric(descVLLMWaiting, prometheus.GaugeValue, float64(mt.Waiting), m.ID)
		ch <- prometheus.MustNewConstMetric(descVLLMRunning, prometheus.GaugeValue, float64(mt.Running), m.ID)
		ch <- prometheus.MustNewConstMetric(descVLLMKVUsage, prometheus.GaugeValue, kvUsage(mt), m.ID)
		ch <- prometheus.MustNewConstMetric(descVLLMGPUUsage, prometheus.GaugeValue, kvUsage(mt), m.ID)
		ch <- prometheus.MustNewConstMetric(descVLLMLoRA, prometheus.GaugeValue, now, m.ID, "", "", "0")
		if m.KVCacheDtype != "" {
			ch <- prometheus.MustNewConstMetric(descKVBytesPerToken, prometheus.GaugeValue, float64(m.KVBytesPerToken), m.ID, m.KVCacheDtype)
		}
	}
	var mt control.Metrics
	if r == nil {
		mt = models[0].Backend.Metrics()
	} else if backends := r.metricsBackends(); len(backends) > 0 {
		mt = control.NewReplicas(backends...).Metrics() // summed as replicas are
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descRunning, float64(mt.Running))
	gauge(descWaiting, float64(mt.Waiting))
	gauge(descSessions, float64(mt.Sessions))
	gauge(descKVBlocks, float64(mt.KV.UsedBlocks), "used")
	gauge(descKVBlocks, float64(mt.KV.CachedBlocks), "cached")
	gauge(descKVBlocks, float64(mt.KV.FreeBlocks), "free")
	gauge(descKVUsage, kvUsage(mt))
	gauge(descHitRate, mt.KV.HitRate())
	counter(descPrefixQ, float64(mt.KV.PrefixQueries))
	counter(descPrefixH, float64(mt.KV.PrefixHits))
	counter(descPromptTok, float64(mt.PromptTokens))
	counter(descGenTok, float64(mt.GeneratedTokens))
	for _, r := range []control.FinishReason{control.FinishStop, control.FinishLength, control.FinishAbort, control.FinishError} {
		counter(descFinished, float64(mt.Requests[r]), string(r))
	}
	counter(descPreempt, float64(mt.Preemptions))
	counter(descSteps, float64(mt.Steps))
	counter(descDraftTok, float64(mt.DraftTokens))
	counter(descAccTok, float64(mt.AcceptedTokens))
	sp := mt.Spill
	for _, c := range []struct {
		d *prometheus.Desc
		v int64
	}{{descSpillW, sp.Writes}, {descSpillWB, sp.WriteBytes}, {descSpillDrop, sp.Drops}, {descSpillR, sp.Reads},
		{descSpillRB, sp.ReadBytes}, {descSpillHit, sp.HitTokens}, {descSpillErr, sp.Errors}} {
		counter(c.d, float64(c.v))
	}
	for method, c := range mt.Spec {
		counter(descSpecDraft, float64(c.Drafts), method)
		counter(descSpecAcc, float64(c.Accepted), method)
	}
	if mt.DraftKV.TotalBlocks > 0 {
		counter(descDraftFwd, float64(mt.DraftForwards))
		counter(descDraftFail, float64(mt.DraftFailures))
		gauge(descDraftKV, float64(mt.DraftKV.UsedBlocks), "used")
		gauge(descDraftKV, float64(mt.DraftKV.CachedBlocks), "cached")
		gauge(descDraftKV, float64(mt.DraftKV.FreeBlocks), "free")
	}
	for _, h := range []struct {
		d *prometheus.Desc
		h control.Histogram
	}{{descTTFT, mt.TTFT}, {descITL, mt.InterToken}, {descE2E, mt.EndToEnd}, {descQueue, mt.Queue}} {
		buckets := make(map[float64]uint64, len(h.h.Bounds))
		for i, b := range h.h.Bounds {
			buckets[b] = h.h.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(h.d, h.h.Count, h.h.Sum, buckets)
	}
}
