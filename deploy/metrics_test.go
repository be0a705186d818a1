package deploy

import (
	"bufio"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server"
)

// idleBackend is a serving core with nothing running: enough for the
// server to export its engine metrics.
type idleBackend struct{}

func (idleBackend) Submit(context.Context, control.Request) (<-chan control.Event, error) {
	return nil, control.ErrClosed
}
func (idleBackend) EndSession(string) bool   { return false }
func (idleBackend) Metrics() control.Metrics { return control.Metrics{} }

// scrapeMetricNames is the set of metric names a serving kiln exports on
// /metrics (histograms by their base name).
func scrapeMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	srv := server.New(server.Options{})
	srv.SetModel(&server.Model{ID: "m", Backend: idleBackend{}})
	resp, err := srv.App().Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			names[strings.Fields(rest)[0]] = true
		}
	}
	if err := sc.Err(); err != nil || len(names) == 0 {
		t.Fatalf("scraping /metrics: %d names, %v", len(names), err)
	}
	return names
}
