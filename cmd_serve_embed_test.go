package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kiln-llm/kiln/configs"
)

// TestServeEmbeddingsOnReplicaPools serves -dp 2 -t 1 (embeddings take
// turns over the replicas, each on its own kernel pool) and -dp 1: every
// answer is the same vector, bit for bit.
func TestServeEmbeddingsOnReplicaPools(t *testing.T) {
	embed := func(url string) string {
		status, body := post(t, url+"/v1/embeddings", `{"input":"Once upon a time there was a ball"}`)
		var r struct {
			Data []struct{ Embedding []float32 }
		}
		if status != 200 || json.Unmarshal([]byte(body), &r) != nil || len(r.Data) != 1 || len(r.Data[0].Embedding) == 0 {
			t.Fatalf("%d %s", status, body)
		}
		return fmt.Sprint(r.Data[0].Embedding)
	}
	want := embed(startServe(t, nil))
	url := startServe(t, func(c *configs.Config) { c.DataParallelSize, c.TensorParallelSize = 2, 1 })
	for i := range 4 { // round-robin: both replicas twice
		if got := embed(url); got != want {
			t.Fatalf("request %d with -dp 2: %s, want %s", i, got, want)
		}
	}
}
