package hf

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// multimodalTextArch maps the multimodal checkpoints whose text model kiln
// serves to that text model's architecture.
var multimodalTextArch = map[string]string{
	"Gemma3ForConditionalGeneration": "Gemma3ForCausalLM",
}

// textModel replaces c by the text_config of a multimodal checkpoint
// (raw is config.json): kiln serves its language model and ignores the
// vision tower. Other configs are left as they are.
func (c *config) textModel(raw []byte) error {
	textArch, ok := multimodalTextArch[c.Architectures[0]]
	if !ok {
		return nil
	}
	var outer struct {
		TextConfig json.RawMessage `json:"text_config"`
	}
	if err := json.Unmarshal(raw, &outer); err != nil {
		return fmt.Errorf("hf: config.json: %w", err)
	}
	if len(outer.TextConfig) == 0 || string(outer.TextConfig) == "null" {
		return fmt.Errorf("hf: config.json: %s without a text_config", c.Architectures[0])
	}
	var tc config
	if err := json.Unmarshal(outer.TextConfig, &tc); err != nil {
		return fmt.Errorf("hf: config.json: text_config: %w", err)
	}
	tc.Architectures, tc.Multimodal = []string{textArch}, true
	*c = tc
	return nil
}

// gemma3Defaults fills what a Gemma 3 text config may leave out: the
// defaults of transformers' Gemma3TextConfig, which the multimodal
// checkpoints (gemma-3-4b/12b/27b) rely on, as llama.cpp's converter does.
func (c *config) gemma3Defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Heads, 8)
	def(&c.KVHeads, 4)
	def(&c.HeadDim, 256)
	def(&c.MaxPos, 131072)
	def(&c.Vocab, 262208)
	if c.RMSEps == 0 {
		c.RMSEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 1e6
	}
	if c.RopeLocalBase == 0 {
		c.RopeLocalBase = 10000
	}
	if c.SlidingWindow == nil {
		w := 4096
		c.SlidingWindow = &w
	}
	if len(c.LayerTypes) == 0 {
		def(&c.SWAPattern, 6)
	}
}

// textTensorName maps a tensor of a multimodal checkpoint to its name in
// the text model ("language_model.model.layers.0..." and, from
// transformers 4.52 on, "model.language_model.layers.0..." become
// "model.layers.0..."), or "" for a tensor of the vision tower or the
// multimodal projector, which are left out.
func textTensorName(name string) string {
	for _, p := range []string{"vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector."} {
		if strings.HasPrefix(name, p) {
			return ""
		}
	}
	for _, r := range [][2]string{
		{"language_model.model.", "model."},
		{"language_model.lm_head.", "lm_head."},
		{"model.language_model.", "model."},
	} {
		if rest, ok := strings.CutPrefix(name, r[0]); ok {
			return r[1] + rest
		}
	}
	return name
}

// keepText renames the tensors of a multimodal checkpoint to the text
// model's names and drops the others, returning how many were dropped.
func (w *weights) keepText() (dropped int, err error) {
	text := make(map[string]*tensor, len(w.tensors))
	for name, t := range w.tensors {
		n := textTensorName(name)
		if n == "" {
			dropped++
			continue
		}
		if _, dup := text[n]; dup {
			return 0, fmt.Errorf("hf: two tensors map to %s", n)
		}
		t.Name = n
		text[n] = t
	}
	w.tensors = text
	return dropped, nil
}

// openTextWeights opens the directory's weights; for a multimodal
// checkpoint, only its text model's, logging once what was left out.
func openTextWeights(dir string, c *config) (*weights, error) {
	ws, err := openWeights(dir)
	if err != nil || !c.Multimodal {
		return ws, err
	}
	dropped, err := ws.keepText()
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	slog.Info("hf: multimodal checkpoint: serving its text model; the vision tower and projector are ignored and image input is refused",
		"dir", dir, "ignored_tensors", dropped)
	return ws, nil
}
