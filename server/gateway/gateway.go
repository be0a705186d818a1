// Package gateway is kiln's OpenAI-compatible load balancer: a reverse
// proxy in front of several `kiln serve` processes (on one machine or
// many) for bare metal, where no Kubernetes Service or inference gateway
// is at hand. It routes each request to a healthy backend by prefix
// affinity (a hash of the start of its prompt picks a sticky backend, so
// repeated prefixes hit that backend's prefix cache) unless that backend
// is busier than the least loaded one by more than a slack; it reads each
// backend's queue from /metrics and its health from /health; it ejects a
// backend that refuses connections or fails its health check and admits
// it again once healthy; and it retries a request on another backend only
// while nothing has reached the client yet.
//
// It is built on net/http rather than fiber: a client that goes away
// cancels the request's context, which cancels the upstream request, so a
// disconnect reaches the backend (which then frees the sequence), and a
// stream's bytes are flushed through as they arrive.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config is a gateway's settings; zero fields take the defaults below.
type Config struct {
	// Backends are the base URLs of the servers, http(s)://host:port.
	Backends []string
	// HealthInterval is how often each backend's /health is checked
	// (default 1 s); HealthTimeout bounds one check (default 2 s).
	HealthInterval, HealthTimeout time.Duration
	// MetricsInterval is how often each healthy backend's /metrics is read
	// for its queue (default 1 s).
	MetricsInterval time.Duration
	// ConnectTimeout bounds a connection to a backend (default 2 s).
	ConnectTimeout time.Duration
	// AffinityChars is how many leading characters of a request's prompt
	// pick its sticky backend (default 512; negative: no prefix affinity,
	// pure least load).
	AffinityChars int
	// AffinitySlack is how many more requests than the least loaded
	// backend the sticky one may have and still get the request (default
	// 4; sessions ignore it: their state lives on one backend).
	AffinitySlack int
	// MaxBodyBytes caps a request body, which the gateway holds to retry
	// it (default 32 MiB).
	MaxBodyBytes int64
	// Log receives admissions, ejections and failures (default: discard).
	Log *slog.Logger
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HealthInterval, time.Second)
	def(&c.HealthTimeout, 2*time.Second)
	def(&c.MetricsInterval, time.Second)
	def(&c.ConnectTimeout, 2*time.Second)
	if c.AffinityChars == 0 {
		c.AffinityChars = 512
	}
	if c.AffinitySlack == 0 {
		c.AffinitySlack = 4
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Gateway proxies to its backends; Handler serves it, Start runs the
// health and load checks, Close stops them.
type Gateway struct {
	cfg      Config
	backends []*backend
	client   *http.Client // to backends: no overall timeout (generations are long)
	probes   *http.Client // /health, /metrics, /v1/models
	met      *metrics
	next     atomic.Uint32 // rotates ties between equally loaded backends

	stop    context.CancelFunc
	stopped sync.WaitGroup
}

// New checks cfg and returns a gateway whose backends are all ejected
// until their first health check passes (Start).
func New(cfg Config) (*Gateway, error) {
	cfg.defaults()
	if len(cfg.Backends) == 0 {
		return nil, errors.New("gateway: no backends (give --backend URL at least once)")
	}
	if cfg.HealthInterval < 0 || cfg.HealthTimeout < 0 || cfg.MetricsInterval < 0 || cfg.ConnectTimeout < 0 || cfg.MaxBodyBytes < 0 || cfg.AffinitySlack < -1 {
		return nil, errors.New("gateway: intervals, timeouts and the body limit must be positive")
	}
	g := &Gateway{cfg: cfg}
	seen := map[string]bool{}
	for _, raw := range cfg.Backends {
		b, err := newBackend(raw)
		if err != nil {
			return nil, err
		}
		if seen[b.name] {
			return nil, fmt.Errorf("gateway: backend %s given twice", b.name)
		}
		seen[b.name] = true
		g.backends = append(g.backends, b)
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	g.client = &http.Client{Transport: &http.Transport{
		DialContext: dialer.DialContext, MaxIdleConns: 256, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: 90 * time.Second, ExpectContinueTimeout: time.Second,
	}}
	g.probes = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}}
	g.met = newMetrics(g)
	return g, nil
}

// Start checks every backend once (so a gateway started beside healthy
// backends serves at once) and then runs each one's health and load
// checks in the background until Close.
func (g *Gateway) Start(ctx context.Context) {
	ctx, g.stop = context.WithCancel(ctx)
	var first sync.WaitGroup
	for _, b := range g.backends {
		first.Add(1)
		go func() {
			defer first.Done()
			g.checkHealth(ctx, b)
			g.scrapeLoad(ctx, b)
		}()
	}
	first.Wait()
	for _, b := range g.backends {
		g.stopped.Add(2)
		go g.healthLoop(ctx, b)
		go g.loadLoop(ctx, b)
	}
}

// Close stops the checks (proxied requests are the HTTP server's to drain).
func (g *Gateway) Close() {
	if g.stop != nil {
		g.stop()
	}
	g.stopped.Wait()
	g.client.CloseIdleConnections()
	g.probes.CloseIdleConnections()
}

func (g *Gateway) healthLoop(ctx context.Context, b *backend) {
	defer g.stopped.Done()
	t := time.NewTicker(g.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.recheck:
		}
		g.checkHealth(ctx, b)
	}
}

func (g *Gateway) loadLoop(ctx context.Context, b *backend) {
	defer g.stopped.Done()
	t := time.NewTicker(g.cfg.MetricsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if b.healthy.Load() {
			g.scrapeLoad(ctx, b)
		}
	}
}

// checkHealth admits b on a 200 from /health and ejects it otherwise.
func (g *Gateway) checkHealth(ctx context.Context, b *backend) {
	_, err := b.probe(ctx, g.probes, "/health", g.cfg.HealthTimeout, 64<<10)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		g.eject(b, "health", err)
		return
	}
	if !b.healthy.Swap(true) {
		g.cfg.Log.Info("gateway: backend admitted", "backend", b.name)
	}
}

// eject takes b out of rotation until a health check passes again.
func (g *Gateway) eject(b *backend, reason string, err error) {
	if b.healthy.Swap(false) {
		g.met.ejections.WithLabelValues(b.name, reason).Inc()
		g.cfg.Log.Warn("gateway: backend ejected", "backend", b.name, "reason", reason, "err", err)
	}
}

// scrapeLoad reads b's running plus waiting requests from its /metrics; a
// failed scrape keeps the last value (health decides admission).
func (g *Gateway) scrapeLoad(ctx context.Context, b *backend) {
	at := b.inflight.Load()
	body, err := b.probe(ctx, g.probes, "/metrics", g.cfg.HealthTimeout, 8<<20)
	if err != nil {
		return
	}
	if load, ok := reportedLoad(body); ok {
		b.inflightAtScrape.Store(at)
		b.reported.Store(load)
	}
}

// healthyCount is how many backends are admitted.
func (g *Gateway) healthyCount() int {
	n := 0
	for _, b := range g.backends {
		if b.healthy.Load() {
			n++
		}
	}
	return n
}
