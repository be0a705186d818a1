package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// handleModels is GET /v1/models: the union of the admitted backends'
// lists (by id, the first backend's entry kept), asked concurrently with
// the client's own Authorization. When no backend answers 200, the first
// backend error (say a 401 for a missing key) is passed through, or 503.
func (g *Gateway) handleModels(w http.ResponseWriter, r *http.Request) {
	type answer struct {
		status int
		body   []byte
	}
	var live []*backend
	for _, b := range g.backends {
		if b.healthy.Load() {
			live = append(live, b)
		}
	}
	answers := make([]answer, len(live))
	var wg sync.WaitGroup
	for i, b := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), g.cfg.HealthTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.name+"/v1/models", nil)
			if err != nil {
				return
			}
			if auth := r.Header.Get("Authorization"); auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := g.probes.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			if err == nil {
				answers[i] = answer{resp.StatusCode, body}
			}
		}()
	}
	wg.Wait()
	var data []json.RawMessage
	seen := map[string]bool{}
	ok := false
	for _, a := range answers {
		if a.status != http.StatusOK {
			continue
		}
		var list struct {
			Data []json.RawMessage `json:"data"`
		}
		if json.Unmarshal(a.body, &list) != nil {
			continue
		}
		ok = true
		for _, m := range list.Data {
			var id struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(m, &id) == nil && !seen[id.ID] {
				seen[id.ID] = true
				data = append(data, m)
			}
		}
	}
	if !ok {
		for _, a := range answers {
			if a.status != 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(a.status)
				_, _ = w.Write(a.body)
				return
			}
		}
		writeError(w, http.StatusServiceUnavailable, "server_error", "no_backend", "no healthy backend answered GET /v1/models")
		return
	}
	if data == nil {
		data = []json.RawMessage{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}
