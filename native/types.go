package native

import "fmt"

// Type is a tensor element type, numbered as in GGUF (ggml_type).
type Type int32

// Weight and KV types the kernels understand.
const (
	F32  Type = 0
	F16  Type = 1
	Q8_0 Type = 8
	BF16 Type = 30
)

// QK8_0 is the number of elements in one Q8_0 block (34 bytes: f16 scale + 32 int8).
const QK8_0 = 32

func (t Type) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q8_0:
		return "q8_0"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("type(%d)", int32(t))
}

// ParseType reads a type name as written by users ("f32", "f16", "bf16", "q8_0").
func ParseType(s string) (Type, error) {
	for _, t := range []Type{F32, F16, BF16, Q8_0} {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q (want f32, f16, bf16 or q8_0)", s)
}

// RowSize is the byte size of one row of k elements of type t, or 0 when t
// is unknown or k is not a multiple of t's block size.
func RowSize(t Type, k int) int {
	if k <= 0 {
		return 0
	}
	switch t {
	case F32:
		return 4 * k
	case F16, BF16:
		return 2 * k
	case Q8_0:
		if k%QK8_0 != 0 {
			return 0
		}
		return k / QK8_0 * 34
	}
	return 0
}

// ISA is a kernel variant.
type ISA int32

// Kernel variants, numbered as kiln_isa in kiln.h.
const (
	Scalar ISA = 0
	AVX2   ISA = 1
	AVX512 ISA = 2
)

// AllISAs lists every variant, reference first.
var AllISAs = []ISA{Scalar, AVX2, AVX512}

func (i ISA) String() string {
	switch i {
	case Scalar:
		return "scalar"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("isa(%d)", int32(i))
}

// ParseISA reads "scalar", "avx2" or "avx512".
func ParseISA(s string) (ISA, error) {
	for _, i := range AllISAs {
		if i.String() == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown kernel variant %q (want scalar, avx2 or avx512): %w", s, ErrISA)
}

// RoPEMode selects which dimensions RoPE pairs up.
type RoPEMode int32

const (
	// RoPENormal rotates adjacent pairs (x[2j], x[2j+1]), as llama does.
	RoPENormal RoPEMode = 0
	// RoPENeoX rotates halves (x[j], x[j+d/2]), as qwen2 and GPT-NeoX do.
	RoPENeoX RoPEMode = 2
)

// cpuFeatureNames follows the KILN_CPU_* bit order of kiln.h.
var cpuFeatureNames = []string{
	"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
	"avx512dq", "avx512vnni", "avx512bf16", "avxvnni", "amx-tile", "amx-int8", "amx-bf16",
}
