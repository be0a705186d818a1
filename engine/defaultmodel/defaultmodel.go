// Package defaultmodel holds the model `kiln serve` hosts when no --model
// is given: stories260K, a 260K-parameter llama trained on TinyStories by
// Andrej Karpathy for llama2.c (MIT licence, LICENSE-stories260K beside this
// file), 1.2 MB. It makes a fresh clone serve something real with nothing
// beside it.
//
// The engine mmaps a file, so the embedded bytes are written once to a
// cache file (named by their hash, verified before every use) and served
// from there.
package defaultmodel

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Name is the embedded model's id in the API.
const Name = "stories260K"

//go:embed stories260K.gguf
var gguf []byte

// Bytes is the embedded GGUF file (read-only: callers must not modify it).
func Bytes() []byte { return gguf }

// Sum is the hex SHA-256 of the embedded file.
func Sum() string {
	s := sha256.Sum256(gguf)
	return hex.EncodeToString(s[:])
}

// CacheDir is where Path writes the model when dir is empty:
// os.UserCacheDir()/kiln, or the temporary directory when there is no
// user cache directory (no $HOME).
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kiln")
	}
	return filepath.Join(os.TempDir(), "kiln-cache")
}

// Path returns a file holding the embedded model under dir (CacheDir() if
// empty): dir/<first 16 hex digits of its hash>/stories260K.gguf. An
// existing file is used only when its bytes hash to the embedded ones; a
// missing, truncated or altered one is (re)written atomically (temp file,
// rename), so concurrent starts never see a partial file.
func Path(dir string) (string, error) {
	if dir == "" {
		dir = CacheDir()
	}
	sum := Sum()
	sub := filepath.Join(dir, sum[:16])
	path := filepath.Join(sub, Name+".gguf")
	if ok, err := verify(path, sum); err != nil {
		return "", err
	} else if ok {
		return path, nil
	}
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", fmt.Errorf("default model: %w", err)
	}
	tmp, err := os.CreateTemp(sub, Name+"-*.tmp")
	if err != nil {
		return "", fmt.Errorf("default model: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if _, err := tmp.Write(gguf); err != nil {
		tmp.Close()
		return "", fmt.Errorf("default model: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("default model: writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("default model: %w", err)
	}
	return path, nil
}

// verify reports whether path is a regular file with the embedded bytes.
// A missing file is (false, nil); a path that exists but is not a regular
// file is an error, not something to overwrite.
func verify(path, sum string) (bool, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("default model: %w", err)
	}
	if !st.Mode().IsRegular() {
		return false, fmt.Errorf("default model: %s exists and is not a regular file", path)
	}
	if st.Size() != int64(len(gguf)) {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("default model: %w", err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]) == sum, nil
}
