package main

import (
	"fmt"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// loadDraftModel loads one replica's copy of cfg.DraftModel (its own
// scratch buffers; the weights are one shared mapping) and checks that it
// shares the target's tokenizer tok and logits width: a draft proposes
// token ids, which must mean the same tokens to both models.
func loadDraftModel(cfg *configs.Config, target *model.Model, tok *tokenizer.Tokenizer) (*model.Model, error) {
	m, err := loadModel(cfg.DraftModel, model.WithMaxBatchTokens(cfg.MaxBatchTokens), model.WithRepack(cfg.RepackWeights))
	if err != nil {
		return nil, fmt.Errorf("serve: option draft_model: %w", err)
	}
	dtok, err := modelTokenizer(m)
	if err == nil {
		err = tokenizer.SameVocabulary(tok, dtok)
	}
	if err == nil && m.Config.NVocab != target.Config.NVocab {
		err = fmt.Errorf("logits of %d tokens vs %d", m.Config.NVocab, target.Config.NVocab)
	}
	if err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("serve: option draft_model: %s does not share the tokenizer of the model %s: %w", cfg.DraftModel, cfg.Model, err)
	}
	return m, nil
}

// draftExecutor is a replica's draft executor over m with its own K/V
// pool: draft_kv_cache_size bytes, else as many tokens as the target's
// pool of targetBlocks blocks holds (what keeps every running sequence's
// draft in step; in bytes a fraction of the target's, as the draft is
// smaller). It returns the pool's bytes.
func draftExecutor(cfg *configs.Config, m *model.Model, targetBlocks int) (*model.Executor, int64, error) {
	kvType, _ := native.ParseType(cfg.KVCacheDtype) // validated with the config
	blockBytes := m.KVBlockBytes(cfg.BlockSize, kvType)
	blocks := targetBlocks
	if cfg.DraftKVCacheBytes > 0 {
		blocks = int(cfg.DraftKVCacheBytes / blockBytes)
		if blocks < 1 {
			return nil, 0, fmt.Errorf("serve: option draft_kv_cache_size: %d bytes hold no block of %d tokens (%d bytes)", cfg.DraftKVCacheBytes, cfg.BlockSize, blockBytes)
		}
	}
	x, err := model.NewExecutor(m, blocks, cfg.BlockSize, kvType)
	if err != nil {
		return nil, 0, fmt.Errorf("serve: draft model: %w", err)
	}
	return x, int64(blocks) * blockBytes, nil
}

// speculativeConfig is the engine's speculative decoding setup from cfg
// (off unless a method is named); draft is the replica's draft executor
// for the draft method.
func speculativeConfig(cfg *configs.Config, draft control.Executor) control.SpeculativeConfig {
	switch cfg.Speculative {
	case "":
		return control.SpeculativeConfig{}
	case "draft":
		return control.SpeculativeConfig{Method: "draft", Tokens: cfg.NumSpeculativeTokens, Draft: draft}
	}
	return control.SpeculativeConfig{Method: cfg.Speculative, Tokens: cfg.NumSpeculativeTokens, NgramMin: cfg.NgramMin, NgramMax: cfg.NgramMax}
}
