package gateway

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
)

// Route says why a request went to its backend.
type route string

const (
	routePrefix  route = "prefix"  // the sticky backend of its prompt's start
	routeSession route = "session" // the backend holding its session
	routeLoad    route = "load"    // the least loaded backend
)

// affinity is what ties a request to one backend: a key hashed onto the
// backends (rendezvous hashing, so a key moves only when its backend
// leaves or comes back) and whether the tie is strict (sessions, whose
// state lives on one backend) or yields to load.
type affinity struct {
	key    string
	strict bool
}

// requestAffinity reads a request body's affinity: an interactive
// session_id (strict), else the first chars characters of its model and
// prompt — the completion prompt, the chat messages, or the Responses
// input and instructions, in order — so requests that share a long prompt
// start (a system prompt, a few-shot preamble, a document) share a
// backend and its prefix cache. An empty key means none (not JSON, no
// prompt, or chars < 0).
func requestAffinity(body []byte, chars int) affinity {
	if chars < 0 || len(body) == 0 {
		return affinity{}
	}
	var req struct {
		Model        string          `json:"model"`
		SessionID    json.RawMessage `json:"session_id"`
		Prompt       json.RawMessage `json:"prompt"`
		Messages     []message       `json:"messages"`
		System       json.RawMessage `json:"system"` // Anthropic Messages
		Instructions string          `json:"instructions"`
		Input        json.RawMessage `json:"input"`
	}
	if json.Unmarshal(body, &req) != nil {
		return affinity{}
	}
	if id, err := strconv.ParseInt(string(req.SessionID), 10, 64); err == nil && id >= 0 {
		return affinity{key: "session\x00" + req.Model + "\x00" + string(req.SessionID), strict: true}
	}
	var sb strings.Builder
	sb.WriteString(req.Model)
	sb.WriteByte(0)
	limit, prompt := sb.Len()+chars, 0
	add := func(s string) bool {
		sb.WriteString(s)
		sb.WriteByte(0)
		prompt += len(s)
		return sb.Len() >= limit
	}
	_ = add(text(req.System)) || add(req.Instructions) || add(text(req.Prompt)) || add(text(req.Input)) || func() bool {
		for _, m := range req.Messages {
			if add(m.Role) || add(text(m.Content)) {
				return true
			}
		}
		return false
	}()
	if prompt == 0 {
		return affinity{} // no prompt to be sticky by
	}
	key := sb.String()
	if len(key) > limit {
		key = key[:limit]
	}
	return affinity{key: key}
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text is the text of a prompt-like JSON value: a string, the first
// element of an array of strings (a batch of prompts), the text parts of
// an array of content parts or items, or the raw JSON of anything else
// (token ids), which is as good a key.
func text(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) == nil && len(parts) > 0 {
		if json.Unmarshal(parts[0], &s) == nil {
			return s
		}
		var sb strings.Builder
		for _, p := range parts {
			var part struct {
				Text    string          `json:"text"`
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			}
			if json.Unmarshal(p, &part) != nil {
				return string(raw)
			}
			sb.WriteString(part.Role)
			sb.WriteString(part.Text)
			if len(part.Content) > 0 {
				sb.WriteString(text(part.Content))
			}
		}
		return sb.String()
	}
	return string(raw)
}

// pick chooses the backend for a request among the admitted ones not in
// tried: the affinity key's backend unless (not strict) it has more than
// AffinitySlack requests beyond the least loaded; else the least loaded.
// nil when no admitted backend is left.
func (g *Gateway) pick(a affinity, tried map[*backend]bool) (*backend, route) {
	n := len(g.backends)
	first := int(g.next.Add(1)) % n
	var least, owner *backend
	var leastLoad int64
	var ownerScore uint64
	for k := range n {
		b := g.backends[(first+k)%n]
		if tried[b] || !b.healthy.Load() {
			continue
		}
		if l := b.load(); least == nil || l < leastLoad {
			least, leastLoad = b, l
		}
		if a.key != "" {
			if s := rendezvous(a.key, b.name); owner == nil || s > ownerScore {
				owner, ownerScore = b, s
			}
		}
	}
	switch {
	case owner != nil && a.strict:
		return owner, routeSession
	case owner != nil && g.cfg.AffinitySlack >= 0 && owner.load() <= leastLoad+int64(g.cfg.AffinitySlack):
		return owner, routePrefix
	}
	return least, routeLoad
}

// rendezvous is the highest-random-weight score of key on a backend: the
// backend with the highest score owns the key, so removing a backend moves
// only its own keys.
func rendezvous(key, backend string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(backend))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	// fnv's high bits mix poorly for short differences; finish with a
	// 64-bit avalanche (splitmix64's) so scores are well spread.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
