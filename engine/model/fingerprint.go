package model

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/kiln-llm/kiln/native"
)

// fingerprintSample is the bytes hashed at each of a tensor's start, middle
// and end.
const fingerprintSample = 4 << 10

// Fingerprint identifies the K/V this model computes, for caches that
// outlive the process (a prefix cache spilled to disk): two models with the
// same fingerprint write the same K/V bytes for the same tokens. It hashes
// (SHA-256) every metadata entry, every tensor's name, type, shape and
// offset, samples of every tensor's data (start, middle and end, 4 KiB
// each: a fine-tune with the same shapes and metadata still differs), the
// hyperparameters as read, the activation options and the kernel variants
// this CPU runs. A requantized file differs in its tensor types, another
// model in nearly everything. It reads a few MiB of the mapping at most.
func (m *Model) Fingerprint() ([32]byte, error) {
	if m.src == nil {
		return [32]byte{}, fmt.Errorf("model: fingerprint: the model is closed")
	}
	h := sha256.New()
	fmt.Fprintf(h, "kiln model fingerprint v1\n")
	f := m.src.Meta()
	for _, kv := range f.KVs() {
		fmt.Fprintf(h, "kv %q %d %d %v\n", kv.Key, kv.Value.Type, kv.Value.Elem, kv.Value.Data)
	}
	for _, t := range m.src.Tensors() {
		fmt.Fprintf(h, "tensor %q %v %v %d %d\n", t.Name, t.Type, t.Shape, t.Offset, t.Size)
		data, err := m.src.TensorData(t.Name)
		if err != nil {
			return [32]byte{}, fmt.Errorf("model: fingerprint: %w", err)
		}
		hashSamples(h, data)
	}
	fmt.Fprintf(h, "config %+v round=%v separate=%v\n", m.Config, m.roundAct, m.separate)
	fmt.Fprintf(h, "isa %v\n", native.CurrentISA())
	for _, k := range native.Kernels() {
		fmt.Fprintf(h, "kernel %q %q\n", k.Name, k.Variant)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// hashSamples writes data's length and its start, middle and end (the
// whole of it when short) to h.
func hashSamples(h hash.Hash, data []byte) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	if len(data) <= 3*fingerprintSample {
		h.Write(data)
		return
	}
	mid := len(data)/2 - fingerprintSample/2
	h.Write(data[:fingerprintSample])
	h.Write(data[mid : mid+fingerprintSample])
	h.Write(data[len(data)-fingerprintSample:])
}
