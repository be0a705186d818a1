package tokenizer

import "strings"

// fragment is a piece of the input after special-token partitioning: either
// a token id (tok >= 0) or raw text still to be tokenized.
type fragment struct {
	tok  int32
	text string
}

// isCSpace is C's isspace in the "C" locale, which llama.cpp uses to strip
// white space around lstrip/rstrip special tokens.
func isCSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// partition splits text at occurrences of special tokens, longest token
// first, as llama.cpp's tokenizer_st_partition: user-defined tokens are
// always recognised, control and unknown tokens only when parseSpecial.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{tok: noToken, text: text}}
	var next []fragment
	for _, id := range t.special {
		if !parseSpecial && isSpecialType(t.types[id]) {
			continue
		}
		tok := t.tokens[id]
		found := false
		for _, f := range frags {
			if f.tok == noToken && strings.Contains(f.text, tok) {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.tok != noToken {
				next = append(next, f)
				continue
			}
			rest := f.text
			for {
				i := strings.Index(rest, tok)
				if i < 0 {
					if rest != "" {
						next = append(next, fragment{tok: noToken, text: rest})
					}
					break
				}
				left := rest[:i]
				if t.lstrip[id] {
					for len(left) > 0 && isCSpace(left[len(left)-1]) {
						left = left[:len(left)-1]
					}
				}
				if left != "" {
					next = append(next, fragment{tok: noToken, text: left})
				}
				next = append(next, fragment{tok: id})
				rest = rest[i+len(tok):]
				if t.rstrip[id] {
					for len(rest) > 0 && isCSpace(rest[0]) {
						rest = rest[1:]
					}
				}
			}
		}
		frags, next = next, frags
	}
	return frags
}

// Encode tokenizes text. With addSpecial, BOS and EOS are added as the
// vocabulary's add_bos_token / add_eos_token say (WordPiece: [CLS] ... [SEP]).
// With parseSpecial, control-token texts in the input (such as
// "<|im_start|>") become their ids; user-defined tokens are always
// recognised. The result equals llama.cpp's llama_tokenize.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	frags := t.partition(text, parseSpecial)
	out := make([]int32, 0, len(text)/3+2)
	switch t.model {
	case ModelSPM:
		prevSpecial := true // the first fragment gets the space prefix
		if addSpecial && t.addBOS && t.bos != noToken {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.tok != noToken {
				out = append(out, f.tok)
				prevSpecial = true
				continue
			}
			s := f.text
			if t.addSpacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.spmEncode(out, strings.ReplaceAll(s, " ", spaceMarker))
			prevSpecial = false
		}
	case ModelUGM:
		// Every text fragment gets the "▁" prefix (llama.cpp's
		// llm_tokenizer_ugm normalizes each fragment on its own).
		if addSpecial && t.addBOS && t.bos != noToken {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.tok != noToken {
				out = append(out, f.tok)
				continue
			}
			s := f.text
			if t.addSpacePrefix {
				s = " " + s
			}
			out = t.ugmEncode(out, strings.ReplaceAll(s, " ", spaceMarker))
		}
	case ModelBPE:
		if addSpecial && t.addBOS && t.bos != noToken {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.tok != noToken {
				out = append(out, f.tok)
				continue
			}
			text := f.text
			if t.normalize != nil {
				text = t.normalize(text)
			}
			out = t.bpeEncode(out, text)
		}
	case ModelWPM:
		if addSpecial && t.bos != noToken {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.tok != noToken {
				out = append(out, f.tok)
				continue
			}
			out = t.wpmEncode(out, f.text)
		}
		if addSpecial && t.sep != noToken {
			out = append(out, t.sep)
		}
		return out
	}
	if addSpecial && t.addEOS && t.eos != noToken {
		out = append(out, t.eos)
	}
	return out
}
