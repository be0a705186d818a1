package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/control/kvcache/spill"
	"github.com/kiln-llm/kiln/engine/model"
)

// The engine's executor moves K/V blocks for the spill.
var _ control.BlockIO = (*model.Executor)(nil)

// prefixSpill is the prefix cache's spill directory of one `kiln serve`
// (prefix_cache_dir), shared by every model and replica: each gets its own
// Store, keyed by what makes K/V bytes interchangeable.
type prefixSpill struct {
	cache *spill.Cache
	log   *slog.Logger
	// build identifies this binary (a hash of the executable): other code
	// may compute other bits, so blocks never cross builds.
	build [32]byte
}

// openSpill opens cfg.PrefixCacheDir; nil when the option is off. A
// directory that cannot be created or written is a start-up error naming
// the option.
func openSpill(cfg *configs.Config, log *slog.Logger) (*prefixSpill, error) {
	if cfg.PrefixCacheDir == "" {
		return nil, nil
	}
	bad := func(err error) error {
		return fmt.Errorf("serve: option prefix_cache_dir (--prefix-cache-dir, KILN_PREFIX_CACHE_DIR): %w", err)
	}
	build, err := buildIdentity()
	if err != nil {
		return nil, bad(fmt.Errorf("identifying the executable: %w", err))
	}
	c, err := spill.Open(spill.Options{
		Dir: cfg.PrefixCacheDir, MaxBytes: cfg.PrefixCacheDirMaxBytesN, RAMBytes: cfg.PrefixCacheRAMBytesN, Logger: log,
	})
	if err != nil {
		return nil, bad(err)
	}
	return &prefixSpill{cache: c, log: log, build: build}, nil
}

// buildIdentity hashes the running executable and the version.
func buildIdentity() ([32]byte, error) {
	path, err := os.Executable()
	if err != nil {
		return [32]byte{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	fmt.Fprintf(h, "kiln %s\n", version)
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// store is the Store of m's blocks as exec lays them out (nil p: none).
func (p *prefixSpill) store(m *model.Model, exec *model.Executor) (*spill.Store, error) {
	if p == nil {
		return nil, nil
	}
	start := time.Now()
	fp, err := m.Fingerprint()
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	id := spill.Identity{Model: sha256.Sum256(append(p.build[:], fp[:]...)), Geometry: exec.KVGeometry(),
		BlockSize: exec.BlockSize(), BlockBytes: exec.KVBlockBytes()}
	st, err := p.cache.Store(id)
	if err != nil {
		return nil, fmt.Errorf("serve: option prefix_cache_dir: %w", err)
	}
	p.log.Info("prefix cache: spilling evicted blocks", "dir", st.Dir(), "block_bytes", id.BlockBytes, "fingerprint_ms", took.Milliseconds())
	return st, nil
}

// close writes out what is queued or held in RAM (after the engines have
// closed and handed over their pools).
func (p *prefixSpill) close() {
	if p != nil {
		p.cache.Close()
	}
}
