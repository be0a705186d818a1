package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the gateway's own registry (no global state): per backend,
// whether it is admitted, its estimated load and in-flight requests, what
// was routed to it and why, the answers it gave, ejections, retries and
// responses cut by a backend failure.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec // backend, code
	routed     *prometheus.CounterVec // backend, reason
	retries    *prometheus.CounterVec // reason
	ejections  *prometheus.CounterVec // backend, reason
	midFailure *prometheus.CounterVec // backend
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiln_gateway_" + name, Help: help}, labels)
	}
	m.requests = counter("requests_total", "Proxied requests by the backend that answered and its status (error: no response; 499: the client went away).", "backend", "code")
	m.routed = counter("routed_total", "Attempts sent to a backend, by why it was chosen (prefix: sticky for its prompt's start; session: holds its session; load: least loaded).", "backend", "reason")
	m.retries = counter("retries_total", "Requests sent again to another backend before any byte reached the client, by the first backend's failure (connect, reset, unavailable: a 503).", "reason")
	m.ejections = counter("backend_ejections_total", "Backends taken out of rotation, by reason (connect: refused or timed out; health: /health failed).", "backend", "reason")
	m.midFailure = counter("backend_failures_midresponse_total", "Responses a backend failed after bytes had reached the client (a stream ends with an error event).", "backend")
	m.reg.MustRegister(m.requests, m.routed, m.retries, m.ejections, m.midFailure, &backendCollector{g: g},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var (
	descUp       = prometheus.NewDesc("kiln_gateway_backend_up", "1 while the backend is admitted (healthy), 0 while ejected.", []string{"backend"}, nil)
	descLoad     = prometheus.NewDesc("kiln_gateway_backend_load", "The backend's estimated running plus waiting requests (its last /metrics, corrected by the gateway's own in-flight requests).", []string{"backend"}, nil)
	descInFlight = prometheus.NewDesc("kiln_gateway_backend_in_flight", "Requests the gateway is proxying to the backend now.", []string{"backend"}, nil)
)

// backendCollector reads the backends' state at scrape time.
type backendCollector struct{ g *Gateway }

// Describe implements prometheus.Collector.
func (c *backendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUp
	ch <- descLoad
	ch <- descInFlight
}

// Collect implements prometheus.Collector.
func (c *backendCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.g.backends {
		up := 0.0
		if b.healthy.Load() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, b.name)
		ch <- prometheus.MustNewConstMetric(descLoad, prometheus.GaugeValue, float64(b.load()), b.name)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(b.inflight.Load()), b.name)
	}
}

func (g *Gateway) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(g.met.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
