package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

// benchText is mixed prose, code and non-Latin text, about 4 KiB.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog. It's 2025; don't panic!\n"+
	"func main() { fmt.Println(\"héllo, 世界\") } // 🦙 emoji and  spaces\t\n"+
	"Съешь же ещё этих мягких французских булок, да выпей чаю. 1234567890\n", 20)

// BenchmarkEncode measures Encode per vocabulary (bytes/s of input text).
func BenchmarkEncode(b *testing.B) {
	dir := sharedDir(b, "testdata")
	for _, name := range []string{"tiny-llama3-q8_0.gguf", "tiny-smollm2-q8_0.gguf", "tiny-qwen2-q8_0.gguf", "stories260K-f32.gguf"} {
		tok := loadGGUFTokenizer(b, filepath.Join(dir, name))
		b.Run(strings.TrimSuffix(name, ".gguf"), func(b *testing.B) {
			b.SetBytes(int64(len(benchText)))
			b.ReportAllocs()
			for b.Loop() {
				tok.Encode(benchText, true, true)
			}
		})
	}
}

// BenchmarkDecode measures Decode of the benchmark text's tokens.
func BenchmarkDecode(b *testing.B) {
	tok := loadGGUFTokenizer(b, filepath.Join(sharedDir(b, "testdata"), "tiny-llama3-q8_0.gguf"))
	ids := tok.Encode(benchText, false, false)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tok.Decode(ids)
	}
}
