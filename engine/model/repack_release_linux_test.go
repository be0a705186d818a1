package model

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// faultAround is the reach of Linux's fault-around (fault_around_bytes,
// 64 KiB by default): reading one page of a file mapping maps the cached
// pages of its aligned 64 KiB window too, so pages that near a tensor the
// forward reads in place (norms, the embedding table) may be mapped again.
const faultAround = 64 << 10

// TestRepackReleasesFilePages: a model whose matrices were repacked at load
// holds each weight once: after the load, and again after a prefill and a
// decode, no page of a repacked matrix's file bytes is mapped in this
// process (/proc/self/pagemap), except within fault-around reach of the
// tensors still read in place. One llama layer with 4096-wide FFN matrices
// (Q8_0, 4.3 MiB each), so most of their pages are out of that reach.
func TestRepackReleasesFilePages(t *testing.T) {
	if _, ok := native.RepackType(native.Q8_0); !ok {
		t.Skip("no repacked layout for Q8_0 on this CPU")
	}
	p := synth.Preset{Name: "wide-1", Arch: "llama", NEmbd: 1024, NLayer: 1, NHead: 8, NHeadKV: 4, NFF: 4096, NVocab: 320,
		NCtx: 256, RopeBase: 10000, RMSEps: 1e-5}
	path := filepath.Join(t.TempDir(), "wide-1-q8_0.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.Q8_0, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, path, WithRepack(true))
	var released [][]byte
	for _, mx := range repackable(m.Weights) {
		if mx.Packed != nil {
			released = append(released, mx.Data)
		}
	}
	var inPlace [][]byte // every other tensor's bytes
	for _, ti := range m.src.Tensors() {
		b, err := m.src.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(released, func(r []byte) bool { return addr(r) == addr(b) }) {
			inPlace = append(inPlace, b)
		}
	}
	if len(released) != 8 { // Q, K, V, O, gate, up, down, the output head
		t.Fatalf("%d matrices repacked, want 8", len(released))
	}
	check := func(when string) {
		mapped, checked := 0, 0
		for _, b := range released {
			for _, pg := range wholePages(b) {
				if slices.ContainsFunc(inPlace, func(o []byte) bool {
					return pg+faultAround > addr(o) && pg < addr(o)+uintptr(len(o))+faultAround
				}) {
					continue
				}
				checked++
				if pagePresent(t, pg) {
					mapped++
				}
			}
		}
		t.Logf("%s: %d of %d released pages out of fault-around reach are mapped", when, mapped, checked)
		if checked < 1000 || mapped > 0 {
			t.Fatalf("%s: %d of %d released pages are mapped", when, mapped, checked)
		}
	}
	check("after the load")
	smallVocabLogits(t, m)
	check("after a prefill and a decode")
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// wholePages lists the addresses of the pages wholly inside b.
func wholePages(b []byte) []uintptr {
	page := uintptr(os.Getpagesize())
	var pages []uintptr
	for p := (addr(b) + page - 1) &^ (page - 1); p+page <= addr(b)+uintptr(len(b)); p += page {
		pages = append(pages, p)
	}
	return pages
}

// pagePresent reads the page's entry in /proc/self/pagemap: bit 63 is set
// while the page is mapped into this process.
func pagePresent(t *testing.T, p uintptr) bool {
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no pagemap: %v", err)
	}
	defer f.Close()
	var e [8]byte
	if _, err := f.ReadAt(e[:], int64(p/uintptr(os.Getpagesize()))*8); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(e[:])>>63 == 1
}
