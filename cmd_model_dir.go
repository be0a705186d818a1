package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kiln-llm/kiln/engine/hf"
	"github.com/kiln-llm/kiln/engine/model"
)

// loadModel loads the --model option: a GGUF file, or a Hugging Face model
// directory whose shards are mapped in place (engine/hf.Open).
func loadModel(path string, opts ...model.Option) (*model.Model, error) {
	if !hf.IsModelDir(path) {
		return model.Load(path, opts...)
	}
	src, err := hf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := model.LoadSource(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// warmModel reads the model's file, or a directory's safetensors shards,
// through once (see warmFile).
func warmModel(ctx context.Context, path string, progress func(done, total int64)) error {
	if !hf.IsModelDir(path) {
		return warmFile(ctx, path, progress)
	}
	shards, err := filepath.Glob(filepath.Join(path, "*.safetensors"))
	if err != nil {
		return err
	}
	for _, s := range shards {
		if err := warmFile(ctx, s, progress); err != nil {
			return err
		}
	}
	return nil
}
