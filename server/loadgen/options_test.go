package loadgen

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := DefaultOptions()
	good.URL = "http://127.0.0.1:8000"
	for _, tc := range []struct {
		name string
		edit func(*Options)
		flag string // in the error; "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"rate with cap", func(o *Options) { o.RequestRate, o.MaxConcurrency = 2, 4 }, ""},
		{"burst", func(o *Options) { o.RequestRate = math.Inf(1) }, ""},
		{"no url", func(o *Options) { o.URL = "" }, "--url"},
		{"url without scheme", func(o *Options) { o.URL = "127.0.0.1:8000" }, "--url"},
		{"ftp url", func(o *Options) { o.URL = "ftp://host/v1" }, "--url"},
		{"bad endpoint", func(o *Options) { o.Endpoint = "embeddings" }, "--endpoint"},
		{"zero requests", func(o *Options) { o.NumRequests = 0 }, "--num-requests"},
		{"negative concurrency", func(o *Options) { o.Concurrency = -1 }, "--concurrency"},
		{"both shapes", func(o *Options) { o.Concurrency, o.RequestRate = 2, 3 }, "--request-rate"},
		{"cap without rate", func(o *Options) { o.MaxConcurrency = 3 }, "--max-concurrency"},
		{"negative cap", func(o *Options) { o.RequestRate, o.MaxConcurrency = 1, -2 }, "--max-concurrency"},
		{"zero input", func(o *Options) { o.InputLen = 0 }, "--input-len"},
		{"zero output", func(o *Options) { o.OutputLen = 0 }, "--output-len"},
		{"input range 1", func(o *Options) { o.InputLenRange = 1 }, "--input-len-range"},
		{"output range negative", func(o *Options) { o.OutputLenRange = -0.1 }, "--output-len-range"},
		{"negative prefix", func(o *Options) { o.SharedPrefixLen = -1 }, "--shared-prefix-len"},
		{"hot temperature", func(o *Options) { o.Temperature = 3 }, "--temperature"},
		{"zero timeout", func(o *Options) { o.Timeout = 0 }, "--timeout"},
		{"token ids", func(o *Options) { o.PromptIDs = TokenRange{Lo: 10, Hi: 20} }, ""},
		{"empty token range", func(o *Options) { o.PromptIDs = TokenRange{Lo: 10, Hi: 10} }, "--prompt-token-ids"},
		{"negative token id", func(o *Options) { o.PromptIDs = TokenRange{Lo: -5, Hi: 10} }, "--prompt-token-ids"},
		{"token ids in chat", func(o *Options) { o.PromptIDs, o.Endpoint = TokenRange{Lo: 1, Hi: 9}, Chat }, "--prompt-token-ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			got, err := o.Validate()
			if tc.flag == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Concurrency == 0 && got.RequestRate == 0 {
					t.Error("no load shape chosen")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.flag) {
				t.Errorf("error %v, want one naming %s", err, tc.flag)
			}
		})
	}
	if o, _ := good.Validate(); o.Concurrency != 1 {
		t.Errorf("default load: concurrency %d, want a closed loop of 1", o.Concurrency)
	}
	if good.Timeout != 10*time.Minute {
		t.Errorf("default timeout %v", good.Timeout)
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{{"inf", math.Inf(1), true}, {"INF", math.Inf(1), true}, {"2.5", 2.5, true},
		{"0", 0, false}, {"-1", 0, false}, {"fast", 0, false}, {"NaN", 0, false}, {"", 0, false}} {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseRate(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--request-rate") {
			t.Errorf("ParseRate(%q): error %v does not name the flag", tc.in, err)
		}
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8000":        "http://127.0.0.1:8000/v1",
		"http://127.0.0.1:8000/":       "http://127.0.0.1:8000/v1",
		"http://127.0.0.1:8000/v1":     "http://127.0.0.1:8000/v1",
		"http://127.0.0.1:8000/v1/":    "http://127.0.0.1:8000/v1",
		"https://host/proxy/openai/v1": "https://host/proxy/openai/v1",
		"https://host/proxy/openai":    "https://host/proxy/openai/v1",
	} {
		if got, err := apiBase(in); err != nil || got != want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
