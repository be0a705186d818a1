package server

import (
	"strconv"

	"github.com/kiln-llm/kiln/control"
	"github.com/prometheus/client_golang/prometheus"
)

// The per-replica series of a model served by -dp N > 1 replicas: how the
// balancer spread its requests (by reason: prefix affinity, least load,
// session) and what each replica holds, so that an operator sees one
// replica hot while the others idle, or a prefix cache that never hits.
var (
	descReplicaRunning = replicaDesc("num_requests_running", "Sequences in the replica's running batch.")
	descReplicaWaiting = replicaDesc("num_requests_waiting", "Requests waiting for admission on the replica.")
	descReplicaKVUsage = replicaDesc("kv_cache_usage_ratio", "Fraction of the replica's K/V blocks in use by sequences.")
	descReplicaPrefixQ = replicaDesc("prefix_cache_queries_total", "Prompt tokens looked up in the replica's prefix cache.")
	descReplicaPrefixH = replicaDesc("prefix_cache_hits_total", "Prompt tokens found in the replica's prefix cache.")
	descReplicaRouted  = replicaDesc("routed_requests_total", "Requests the balancer sent to the replica, by reason (prefix: it held the longest cached prefix; load: least loaded; session: it holds the session).", "reason")
	replicaDescs       = []*prometheus.Desc{descReplicaRunning, descReplicaWaiting, descReplicaKVUsage, descReplicaPrefixQ, descReplicaPrefixH, descReplicaRouted}
)

func replicaDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("kiln_replica_"+name, help, append([]string{"model_name", "replica"}, labels...), nil)
}

// replicaStatser is a Backend made of replicas (*control.Replicas).
type replicaStatser interface {
	ReplicaStats() []control.ReplicaStat
}

// replicaCollector reads each served model's replicas at scrape time;
// models served by one engine have no per-replica series.
type replicaCollector struct{ s *Server }

// Describe implements prometheus.Collector.
func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range replicaDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.s.servedModels() {
		rs, ok := m.Backend.(replicaStatser)
		if !ok {
			continue
		}
		for i, st := range rs.ReplicaStats() {
			labels := []string{m.ID, strconv.Itoa(i)}
			gauge := func(d *prometheus.Desc, v float64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
			}
			counter := func(d *prometheus.Desc, v float64, extra ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append(labels, extra...)...)
			}
			gauge(descReplicaRunning, float64(st.Metrics.Running))
			gauge(descReplicaWaiting, float64(st.Metrics.Waiting))
			gauge(descReplicaKVUsage, kvUsage(st.Metrics))
			counter(descReplicaPrefixQ, float64(st.Metrics.KV.PrefixQueries))
			counter(descReplicaPrefixH, float64(st.Metrics.KV.PrefixHits))
			for _, r := range control.Routes() {
				counter(descReplicaRouted, float64(st.Routed[r]), r.String())
			}
		}
	}
}
