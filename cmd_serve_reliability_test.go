package main

import "testing"

// TestReliability is the reliability suite: each check runs the real
// `kiln serve` as a subprocess on a loopback port and puts it through one
// kind of trouble, bounded in count and time. The slowloris check mostly
// waits for the server's header read timeout (15 s there), so it runs beside the
// others, which run one after another (each needs the CPU to itself more
// than it needs wall time).
//
//	go test -run Reliability -v .            # the suite
//	go test -run 'Reliability/load/soak' .   # one check
func TestReliability(t *testing.T) {
	if testing.Short() {
		t.Skip("the reliability suite takes about a minute")
	}
	t.Run("slowloris", func(t *testing.T) {
		t.Parallel()
		testSlowloris(t)
	})
	t.Run("load", func(t *testing.T) {
		t.Parallel()
		t.Run("soak", testSoak)
		t.Run("disconnect storm", testDisconnectStorm)
		t.Run("SIGTERM under load", testDrainUnderLoad)
		t.Run("SIGTERM past the grace period", testDrainPastGrace)
		t.Run("second SIGTERM", testSecondSignal)
	})
}
