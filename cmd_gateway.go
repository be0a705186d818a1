package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/server/gateway"
	"github.com/spf13/cobra"
)

// gatewayOptions are `kiln gateway`'s flags.
type gatewayOptions struct {
	cfg           gateway.Config
	host          string
	port          int
	maxBody       string
	shutdownGrace time.Duration
	logLevel      string
}

func newGatewayCommand() *cobra.Command {
	var o gatewayOptions
	cmd := &cobra.Command{
		Use:   "gateway --backend URL --backend URL [options]",
		Short: "Balance an OpenAI-compatible API over several kiln servers",
		Long: `Balance an OpenAI-compatible API over several kiln serve processes, on
this machine or others: a reverse proxy for bare metal, where no Kubernetes
Service or inference gateway is at hand.

A request goes to the backend its prompt's first --affinity-chars characters
hash to (so repeated prefixes hit one prefix cache), unless that backend has
more than --affinity-slack requests beyond the least loaded one (read from
each backend's /metrics every --metrics-interval); interactive sessions stay
on their backend. A backend that refuses connections or fails /health
(checked every --health-interval) is ejected, and admitted again once
/health answers 200. A request is retried on another backend only while no
byte of the response has reached the client; a stream cut by a failed
backend ends with an error event. Streams pass through as they come, and a
client that goes away cancels its request on the backend.

The gateway answers /health (200 while a backend is admitted), /metrics
(kiln_gateway_*) and /v1/models (the union of the backends'); every other
path is proxied, with the backend named in the X-Kiln-Backend header.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
				return fmt.Errorf("gateway: --log-level %q: want debug, info, warn or error", o.logLevel)
			}
			o.cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := drainOnSignal(cmd.Context(), os.Interrupt, syscall.SIGTERM) // a second signal stops at once
			defer stop()
			return runGateway(ctx, &o, nil)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&o.cfg.Backends, "backend", nil, "a backend's base URL, http://host:port (repeat for each)")
	fs.StringVar(&o.host, "host", "0.0.0.0", "address to listen on")
	fs.IntVar(&o.port, "port", 8080, "port to listen on (0: any free port)")
	fs.DurationVar(&o.cfg.HealthInterval, "health-interval", time.Second, "how often each backend's /health is checked")
	fs.DurationVar(&o.cfg.HealthTimeout, "health-timeout", 2*time.Second, "how long a health check or /metrics read may take")
	fs.DurationVar(&o.cfg.MetricsInterval, "metrics-interval", time.Second, "how often each backend's queue is read from its /metrics")
	fs.DurationVar(&o.cfg.ConnectTimeout, "connect-timeout", 2*time.Second, "how long connecting to a backend may take")
	fs.IntVar(&o.cfg.AffinityChars, "affinity-chars", 512, "leading prompt characters that pick a request's sticky backend (-1: no prefix affinity)")
	fs.IntVar(&o.cfg.AffinitySlack, "affinity-slack", 4, "requests beyond the least loaded backend the sticky one may have (-1: always least loaded)")
	fs.StringVar(&o.maxBody, "max-body-size", "32MiB", "largest request body (held in memory to retry it)")
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace-period", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// runGateway serves the gateway until ctx is cancelled, then drains for
// the grace period. listening, if not nil, receives the bound address.
func runGateway(ctx context.Context, o *gatewayOptions, listening func(net.Addr)) error {
	log := o.cfg.Log
	if log == nil {
		log = slog.Default()
		o.cfg.Log = log
	}
	var err error
	if o.cfg.MaxBodyBytes, err = configs.ParseSize(o.maxBody); err != nil || o.cfg.MaxBodyBytes <= 0 {
		return fmt.Errorf("gateway: --max-body-size %q: want a size such as 32MiB", o.maxBody)
	}
	g, err := gateway.New(o.cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.Start(ctx)
	defer g.Close()
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("gateway: listening", "addr", ln.Addr().String(), "backends", fmt.Sprint(o.cfg.Backends), "version", version)
	if listening != nil {
		listening(ln.Addr())
	}
	select {
	case err := <-done:
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	log.Info("gateway: shutting down", "grace", o.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	_ = srv.Close()
	log.Info("gateway: stopped")
	return nil
}
