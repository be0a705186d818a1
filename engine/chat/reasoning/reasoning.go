// Package reasoning splits a reasoning model's output into its thinking
// and its answer, following vLLM's reasoning parsers: the thinking sits
// between <think> and </think> (DeepSeek-R1 distills, Qwen3, QwQ) and the
// answer follows the end marker. Parsers work on text, not token ids, so a
// marker the vocabulary splits into several tokens (or a stream chunk that
// ends inside one) is still found: a stream holds back a suffix that may be
// the start of a marker until the next text decides it.
package reasoning

import (
	"fmt"
	"slices"
	"strings"
)

// Parser is one model family's thinking format.
type Parser struct {
	name       string
	start, end string
	// implicitStart: the output begins in thinking even without the start
	// marker (DeepSeek-R1's template writes <think> into the prompt); the
	// thinking then ends at the end marker, or with the output.
	implicitStart bool
}

// parsers are the known formats by name. deepseek_r1 treats text before
// </think> as thinking even without <think>; qwen3 needs both markers
// (an output without them is all answer, as with enable_thinking false).
var parsers = []Parser{
	{name: "deepseek_r1", start: "<think>", end: "</think>", implicitStart: true},
	{name: "qwen3", start: "<think>", end: "</think>"},
}

// Names are the parser names New accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(parsers))
	for _, p := range parsers {
		out = append(out, p.name)
	}
	slices.Sort(out)
	return out
}

// New returns the parser called name.
func New(name string) (*Parser, error) {
	for i := range parsers {
		if parsers[i].name == name {
			p := parsers[i]
			return &p, nil
		}
	}
	return nil, fmt.Errorf("reasoning: unknown parser %q; want one of %s", name, strings.Join(Names(), ", "))
}

// Name is the parser's name.
func (p *Parser) Name() string { return p.name }

// Start is the marker that opens the thinking.
func (p *Parser) Start() string { return p.start }

// End is the marker that ends the thinking; a thinking budget forces it.
func (p *Parser) End() string { return p.end }

// StartsInThinking reports whether an output begins in thinking without
// writing the start marker.
func (p *Parser) StartsInThinking() bool { return p.implicitStart }

// Split splits a complete output into its thinking and its answer; ok is
// false when the output has no thinking at all. It agrees with a Stream
// fed the same text, except that qwen3 answers an output whose thinking
// never ends as all answer (it cannot know that while streaming).
func (p *Parser) Split(text string) (thinking, answer string, ok bool) {
	st := p.NewStream()
	d := st.Push(text)
	f := st.Finish()
	thinking, answer = d.Reasoning+f.Reasoning, d.Content+f.Content
	if !p.implicitStart && !st.ended {
		return "", text, false
	}
	return thinking, answer, st.thought
}

// Delta is the text a push decided: thinking and answer (either may be
// empty; thinking always comes first within one Delta).
type Delta struct {
	Reasoning, Content string
}

// state is where a stream is in the output.
type state int

const (
	stLead     state = iota // before anything: the start marker may come
	stPre                   // answer before any thinking (markers required)
	stThinking              // inside the thinking
	stAnswer                // after the end marker
)

// Stream splits an output as it is generated.
type Stream struct {
	p       *Parser
	st      state
	pending string // text that may begin a marker
	thought bool   // some thinking was seen (or the start marker)
	ended   bool   // the end marker was seen
}

// NewStream starts splitting one output.
func (p *Parser) NewStream() *Stream { return &Stream{p: p, st: stLead} }

// InAnswer reports whether the stream is past the thinking: the end marker
// was seen, or the output began with an answer (a parser that needs
// markers and saw text before any <think>).
func (s *Stream) InAnswer() bool { return s.st == stAnswer }

// InThinking reports whether the stream is inside the thinking.
func (s *Stream) InThinking() bool {
	return s.st == stThinking || (s.st == stLead && s.p.implicitStart)
}

// Push adds generated text and returns what it decided.
func (s *Stream) Push(text string) Delta {
	s.pending += text
	var d Delta
	for s.pending != "" {
		switch s.st {
		case stLead:
			rest := strings.TrimLeft(s.pending, " \t\r\n")
			switch {
			case strings.HasPrefix(rest, s.p.start):
				// Leading whitespace before <think> is dropped, as the
				// marker is.
				s.pending = rest[len(s.p.start):]
				s.st, s.thought = stThinking, true
				continue
			case rest == "" || strings.HasPrefix(s.p.start, rest):
				return d // undecided: wait for more text
			}
			if s.p.implicitStart {
				s.st = stThinking
			} else {
				s.st = stPre
			}
		case stPre:
			before, found, keep := cut(s.pending, s.p.start)
			d.Content += before
			if !found {
				s.pending = keep
				return d
			}
			s.pending = keep
			s.st, s.thought = stThinking, true
		case stThinking:
			before, found, keep := cut(s.pending, s.p.end)
			d.Reasoning += before
			if before != "" {
				s.thought = true
			}
			s.pending = keep
			if !found {
				return d
			}
			s.st, s.ended = stAnswer, true
		case stAnswer:
			d.Content += s.pending
			s.pending = ""
		}
	}
	return d
}

// Finish returns the text held back (a marker's beginning that the output
// never completed), in the part it belongs to.
func (s *Stream) Finish() Delta {
	rest := s.pending
	s.pending = ""
	switch s.st {
	case stThinking:
		if rest != "" {
			s.thought = true
		}
		return Delta{Reasoning: rest}
	case stLead:
		if s.p.implicitStart && strings.TrimSpace(rest) != "" {
			s.thought = true
			return Delta{Reasoning: rest}
		}
	}
	return Delta{Content: rest}
}

// cut finds marker in text: before it (all that is surely not part of a
// marker when it is absent), whether it was found, and what follows it (or
// the held-back suffix that may begin it).
func cut(text, marker string) (before string, found bool, after string) {
	if i := strings.Index(text, marker); i >= 0 {
		return text[:i], true, text[i+len(marker):]
	}
	for k := min(len(marker)-1, len(text)); k > 0; k-- {
		if strings.HasPrefix(marker, text[len(text)-k:]) {
			return text[:len(text)-k], false, text[len(text)-k:]
		}
	}
	return text, false, ""
}
