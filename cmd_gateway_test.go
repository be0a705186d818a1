package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/server/gateway"
)

// gatewayArgs starts `kiln gateway` over backends with fast checks.
func gatewayArgs(host string, port int, backends ...*serveProcess) []string {
	args := []string{"gateway", "--host", host, "--port", fmt.Sprint(port), "--health-interval", "200ms", "--metrics-interval", "200ms"}
	for _, b := range backends {
		args = append(args, "--backend", b.url)
	}
	return args
}

// TestGatewayLoopback puts the real `kiln gateway` in front of two real
// `kiln serve` processes on loopback: /v1/models is the union, prompts
// sharing a long start stick to one replica and hit its prefix cache, and
// a replica SIGKILLed under load fails over (runFailover).
func TestGatewayLoopback(t *testing.T) {
	if _, err := os.Stat(storiesGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	client := &http.Client{}
	serveArgs := slices.Concat(serveProcessArgs, backendArgs)
	a := startKiln(t, client, nil, "serve", serveArgs...)
	b := startKiln(t, client, nil, "serve", serveArgs...)
	gw := startKiln(t, client, nil, "gateway", gatewayArgs("127.0.0.1", 0, a, b)...)

	var models struct{ Data []struct{ ID string } }
	if err := json.Unmarshal([]byte(fetch(t, client, gw.url+"/v1/models")), &models); err != nil || len(models.Data) != 1 || models.Data[0].ID != "stories260K" {
		t.Fatalf("/v1/models %+v %v", models, err)
	}
	prefix := strings.Repeat("Once upon a time there was a little girl who liked to play in the park. ", 8) // beyond --affinity-chars 512
	first := ""
	for i := range 5 {
		resp, err := http.Post(gw.url+"/v1/completions", "application/json",
			strings.NewReader(fmt.Sprintf(`{"prompt":%q,"max_tokens":4}`, prefix+fmt.Sprintf("Story %d:", i))))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Usage struct {
				PromptTokensDetails struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			} `json:"usage"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		backend := resp.Header.Get(gateway.BackendHeader)
		if first == "" {
			first = backend
		}
		if err != nil || resp.StatusCode != 200 || backend != first || (i > 0) != (out.Usage.PromptTokensDetails.CachedTokens > 0) {
			t.Fatalf("request %d: status %d from %s (first %s), cached_tokens %d, %v", i, resp.StatusCode, backend, first, out.Usage.PromptTokensDetails.CachedTokens, err)
		}
	}
	runFailover(t, client, gw.url, a, b)
}
