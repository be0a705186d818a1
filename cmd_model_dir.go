package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kiln-llm/kiln/engine/hf"
)

// modelFile returns the GGUF file to load for the --model option: path
// itself, or, for a Hugging Face model directory, a GGUF converted from it
// into a temporary file. release removes that file; call it once the model
// is loaded (the mapping stays valid after the name is gone).
func modelFile(path string, log *slog.Logger) (file string, release func(), err error) {
	if !hf.IsModelDir(path) {
		return path, func() {}, nil
	}
	tmp, err := os.CreateTemp("", "kiln-hf-*.gguf")
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	name := tmp.Name()
	_ = tmp.Close()
	release = func() { _ = os.Remove(name) }
	start := time.Now()
	if err := hf.Convert(path, name); err != nil {
		release()
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	log.Info("model: converted Hugging Face directory", "dir", path, "seconds", time.Since(start).Seconds())
	return name, release, nil
}
