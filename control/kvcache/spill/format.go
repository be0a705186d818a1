package spill

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// fileMagic opens every block file; formatVersion changes with the layout.
const (
	fileMagic     = "KILNKVB\x00"
	formatVersion = 1
	fileExt       = ".kvb"
)

// Identity is what makes two processes' blocks interchangeable: the same
// model computing with the same kernels (Model, e.g. model.Fingerprint
// mixed with the build), into K/V blocks of the same shape (Geometry,
// BlockSize, BlockBytes: e.g. model.KVCache's).
type Identity struct {
	Model      [32]byte
	Geometry   string
	BlockSize  int
	BlockBytes int
}

func (id Identity) validate() error {
	if id.BlockSize <= 0 || id.BlockBytes <= 0 || id.Geometry == "" {
		return fmt.Errorf("spill: identity: block size %d, block bytes %d, geometry %q: want positive sizes and a geometry",
			id.BlockSize, id.BlockBytes, id.Geometry)
	}
	return nil
}

// headerLen is the bytes before the payload.
func (id Identity) headerLen() int {
	return len(fileMagic) + 4 /*version*/ + 32 /*model*/ + 32 /*key*/ + 4 /*block size*/ + 8 /*payload*/ +
		4 + len(id.Geometry) + 4*id.BlockSize
}

// fileLen is the exact size of a block file of id.
func (id Identity) fileLen() int64 {
	return int64(id.headerLen()) + int64(id.BlockBytes) + 4 /*crc*/
}

// encodeHeader is the header of key's file holding tokens.
func (id Identity) encodeHeader(key kvcache.BlockKey, tokens []int32) []byte {
	b := make([]byte, 0, id.headerLen())
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = append(b, id.Model[:]...)
	b = append(b, key[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(id.BlockSize))
	b = binary.LittleEndian.AppendUint64(b, uint64(id.BlockBytes))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(id.Geometry)))
	b = append(b, id.Geometry...)
	for _, t := range tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return b
}

// errBadFile marks a block file that must not be loaded.
var errBadFile = errors.New("spill: bad block file")

// checkFile verifies a whole block file read into hdr (headerLen bytes),
// payload (BlockBytes) and trailer (the CRC-32C): checksum first, then that
// the header is exactly the one id would write for key and tokens.
func (id Identity) checkFile(table *crc32.Table, hdr, payload, trailer []byte, key kvcache.BlockKey, tokens []int32) error {
	crc := crc32.Update(crc32.Checksum(hdr, table), table, payload)
	if got := binary.LittleEndian.Uint32(trailer); got != crc {
		return fmt.Errorf("%w: checksum %08x, want %08x", errBadFile, got, crc)
	}
	want := id.encodeHeader(key, tokens)
	if bytes.Equal(hdr, want) {
		return nil
	}
	switch {
	case !bytes.Equal(hdr[:len(fileMagic)], want[:len(fileMagic)]):
		return fmt.Errorf("%w: not a kiln block file", errBadFile)
	case !bytes.Equal(hdr[len(fileMagic):len(fileMagic)+4], want[len(fileMagic):len(fileMagic)+4]):
		return fmt.Errorf("%w: format version %d, want %d", errBadFile, binary.LittleEndian.Uint32(hdr[len(fileMagic):]), formatVersion)
	}
	return fmt.Errorf("%w: written for another model, K/V geometry, key or tokens", errBadFile)
}

// trailerFor is the CRC-32C trailer of hdr and payload.
func trailerFor(table *crc32.Table, hdr, payload []byte) []byte {
	return binary.LittleEndian.AppendUint32(nil, crc32.Update(crc32.Checksum(hdr, table), table, payload))
}

// validTokens reports whether tokens fill one block of id.
func (id Identity) validTokens(tokens []int32) bool {
	return len(tokens) == id.BlockSize
}
