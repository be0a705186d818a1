package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// backend is one kiln serve (or other OpenAI-compatible server) behind the
// gateway, with what the gateway knows of it: whether it is admitted, the
// load it last reported on /metrics and the requests the gateway has in
// flight on it.
type backend struct {
	name string   // its base URL as given, the label in logs and metrics
	url  *url.URL // parsed name

	healthy  atomic.Bool
	inflight atomic.Int64 // requests the gateway is proxying to it now
	// reported is running+waiting from its last /metrics scrape (-1: none
	// yet); inflightAtScrape is inflight when that scrape began, so
	// reported-inflightAtScrape is the load of other clients.
	reported, inflightAtScrape atomic.Int64

	recheck chan struct{} // asks its health loop to check now
}

func newBackend(raw string) (*backend, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("gateway: backend %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("gateway: backend %q: want http(s)://host:port with no path or query", raw)
	}
	u.Path = ""
	b := &backend{name: u.String(), url: u, recheck: make(chan struct{}, 1)}
	b.reported.Store(-1)
	return b, nil
}

// load is the backend's estimated running plus waiting requests: what other
// clients had there at the last scrape, plus what the gateway has in
// flight now (fresher than any scrape).
func (b *backend) load() int64 {
	others := int64(0)
	if r := b.reported.Load(); r >= 0 {
		others = max(r-b.inflightAtScrape.Load(), 0)
	}
	return others + b.inflight.Load()
}

// askRecheck makes the health loop check b at once (a request to it just
// failed), without blocking.
func (b *backend) askRecheck() {
	select {
	case b.recheck <- struct{}{}:
	default:
	}
}

// probe GETs path on b within timeout and returns the body of a 200.
func (b *backend) probe(ctx context.Context, client *http.Client, path string, timeout time.Duration, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.name+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return body, nil
}
