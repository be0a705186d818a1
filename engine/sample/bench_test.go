package sample

import "testing"

// benchVocab is Llama 3's vocabulary size.
const benchVocab = 128256

// benchSample measures Sample on a Llama-3-sized row of N(0, 3²) logits,
// with a 64-token penalty history so the penalty pass is included.
func benchSample(b *testing.B, p Params) {
	logits := randomLogits(benchVocab, 3, 5)
	s := newTest(b, p, benchVocab)
	for i := range 64 {
		s.Accept(int32(i * 1999))
	}
	b.SetBytes(int64(4 * benchVocab))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sample(logits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSampleGreedy: bias, penalties and argmax.
func BenchmarkSampleGreedy(b *testing.B) {
	p := DefaultParams()
	p.Temperature, p.RepetitionPenalty = 0, 1.1
	benchSample(b, p)
}

// BenchmarkSampleTopKTopP: llama.cpp's usual chain, top-k 40, top-p 0.95,
// min-p 0.05, temperature 0.8.
func BenchmarkSampleTopKTopP(b *testing.B) {
	p := DefaultParams()
	p.TopK, p.TopP, p.MinP, p.Temperature, p.RepetitionPenalty = 40, 0.95, 0.05, 0.8, 1.1
	benchSample(b, p)
}

// BenchmarkSampleTopPOnly: top-p 0.95 with no top-k, the chunked partial
// sort's case.
func BenchmarkSampleTopPOnly(b *testing.B) {
	p := DefaultParams()
	p.TopP, p.Temperature = 0.95, 0.8
	benchSample(b, p)
}

// BenchmarkSampleFull: temperature 1 and no filters, softmax over the whole
// vocabulary.
func BenchmarkSampleFull(b *testing.B) {
	benchSample(b, DefaultParams())
}

// BenchmarkLogprobs: log-softmax of a full row plus the top 20.
func BenchmarkLogprobs(b *testing.B) {
	logits := randomLogits(benchVocab, 3, 5)
	b.ReportAllocs()
	for b.Loop() {
		Logprobs(logits, 17, 20)
	}
}
