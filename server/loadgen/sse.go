package loadgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// usage is the token accounting of the stream's last chunk, sent because
// the request asks for stream_options.include_usage.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// Details are a speculating server's draft tokens kept and dropped.
	Details *struct {
		Accepted int `json:"accepted_prediction_tokens"`
		Rejected int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

// chunk is what a run reads of a streamed chunk of either endpoint:
// completions put text in choices[].text, chat in choices[].delta.content
// (or, from reasoning models, delta.reasoning_content / delta.reasoning,
// which are generated tokens all the same).
type chunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
	// Timings is llama-server's per-chunk report when asked for it
	// ("timings_per_token": true): predicted_n counts the tokens generated
	// so far, so a chunk that carries several (bytes of an unfinished
	// UTF-8 character are held back) is counted as so many tokens.
	Timings *struct {
		PredictedN *int `json:"predicted_n"`
	} `json:"timings"`
}

// hasText reports whether the chunk carries generated text; role-only
// deltas, finish_reason and usage chunks do not count as tokens.
func (c *chunk) hasText() bool {
	for _, ch := range c.Choices {
		if ch.Text != "" || ch.Delta.Content != "" || ch.Delta.ReasoningContent != "" || ch.Delta.Reasoning != "" {
			return true
		}
	}
	return false
}

// streamStats are the timings and counts of one response stream.
type streamStats struct {
	ttft, e2e time.Duration
	itl       []time.Duration
	chunks    int    // chunks carrying text
	tokens    int    // tokens those chunks carry (see readStream)
	usage     *usage // the last usage seen; nil if none
}

// errNoDone reports a stream that ended without its data: [DONE]: the
// server (or something between) cut it, so the request did not complete.
var errNoDone = errors.New("stream ended before data: [DONE]")

// readStream reads SSE events until data: [DONE], timing each chunk that
// carries text from start. A chunk carrying several tokens (as the usage
// may show) is one arrival and so adds one inter-token gap: ITL is the
// latency a reader of the stream sees. When the server says how many
// tokens each chunk carries (llama-server's timings.predicted_n), a chunk
// of k tokens that came g after the previous one adds k gaps of g/k
// instead, and the tokens of the first chunk come at the TTFT: ITL is then
// per token, whatever the server holds back (bytes of a character not yet
// complete), so servers that stream differently compare token for token.
// Lines other than data: (comments, event:, id:) are skipped.
func readStream(r io.Reader, start time.Time) (streamStats, error) {
	var st streamStats
	br := bufio.NewReaderSize(r, 64<<10)
	var last time.Time
	predicted := 0 // the last predicted_n seen
	for {
		line, err := br.ReadString('\n')
		if payload, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data:"); ok {
			now := time.Now()
			payload = strings.TrimSpace(payload)
			if payload == "[DONE]" {
				st.e2e = now.Sub(start)
				return st, nil
			}
			var c chunk
			if jerr := json.Unmarshal([]byte(payload), &c); jerr != nil {
				return st, fmt.Errorf("stream: bad chunk %.80q: %w", payload, jerr)
			}
			if len(c.Error) > 0 && string(c.Error) != "null" {
				msg := errorMessage([]byte(payload))
				if msg == "" {
					msg = string(c.Error)
				}
				return st, fmt.Errorf("stream error: %s", msg)
			}
			if c.Usage != nil {
				st.usage = c.Usage
			}
			if c.hasText() {
				k := 1
				if c.Timings != nil && c.Timings.PredictedN != nil && *c.Timings.PredictedN > predicted {
					k = *c.Timings.PredictedN - predicted
					predicted = *c.Timings.PredictedN
				}
				if st.chunks == 0 {
					st.ttft = now.Sub(start)
				} else {
					for range k {
						st.itl = append(st.itl, now.Sub(last)/time.Duration(k))
					}
				}
				last = now
				st.chunks++
				st.tokens += k
			}
		}
		if err == io.EOF {
			return st, errNoDone
		}
		if err != nil {
			return st, fmt.Errorf("stream: %w", err)
		}
	}
}
