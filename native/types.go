package native

import (
	"fmt"
	"strings"
)

// Type is a tensor element type, numbered as in GGUF (ggml_type).
type Type int32

// Weight and KV types the kernels understand.
const (
	F32    Type = 0
	F16    Type = 1
	Q4_0   Type = 2
	Q4_1   Type = 3
	Q5_0   Type = 6
	Q5_1   Type = 7
	Q8_0   Type = 8
	Q2_K   Type = 10
	Q3_K   Type = 11
	Q4_K   Type = 12
	Q5_K   Type = 13
	Q6_K   Type = 14
	IQ4_NL Type = 20
	IQ4_XS Type = 23
	BF16   Type = 30
	// The repacked types are not GGUF types: weights of a source type
	// rewritten by Repack into groups of 16 rows (kiln.h and csrc/repack.h
	// state the layouts). MatMul and MatMulMulti take them like any weight
	// type (n a multiple of 16) with the source weights' result bits;
	// nothing else reads them (their rows are interleaved). Not in Types.

	// Q8_0R16: Q8_0 weights, the same byte size (k a multiple of 64).
	Q8_0R16 Type = 40
	// Q4_KR16: Q4_K weights, the same byte size (k a multiple of 256).
	Q4_KR16 Type = 41
	// Q6_KR16: Q6_K weights, 212 bytes per 256 elements and row against
	// GGUF's 210 (k a multiple of 256).
	Q6_KR16 Type = 42
	// Q4_0R16: Q4_0 weights, the same byte size (k a multiple of 64).
	Q4_0R16 Type = 43
	// Q5_0R16: Q5_0 weights, the same byte size (k a multiple of 64).
	Q5_0R16 Type = 44
	// Q5_KR16: Q5_K weights, the same byte size (k a multiple of 256).
	Q5_KR16 Type = 45
	// IQ4_XSR16: IQ4_XS weights, the same byte size (k a multiple of 256).
	IQ4_XSR16 Type = 46
	// IQ4_NLR16: IQ4_NL weights in Q4_0R16's layout, the same byte size (k a
	// multiple of 64).
	IQ4_NLR16 Type = 47
	// Q4_1R16, Q5_1R16: Q4_1 and Q5_1 weights, the same byte size (k a
	// multiple of 64).
	Q4_1R16 Type = 48
	Q5_1R16 Type = 49
)

// repackedInfos lists the repacked types: each one's source type and traits.
var repackedInfos = []struct {
	t, source Type
	typeInfo
}{
	{Q8_0R16, Q8_0, typeInfo{"q8_0_r16", 64, 68}}, // blocks of 64: two Q8_0 blocks
	{Q4_KR16, Q4_K, typeInfo{"q4_k_r16", 256, 144}},
	{Q6_KR16, Q6_K, typeInfo{"q6_k_r16", 256, 212}}, // 16 rows of a super-block fill 53 cache lines
	{Q4_0R16, Q4_0, typeInfo{"q4_0_r16", 64, 36}},   // blocks of 64: two Q4_0 blocks
	{Q5_0R16, Q5_0, typeInfo{"q5_0_r16", 64, 44}},   // blocks of 64: two Q5_0 blocks
	{Q5_KR16, Q5_K, typeInfo{"q5_k_r16", 256, 176}},
	{IQ4_XSR16, IQ4_XS, typeInfo{"iq4_xs_r16", 256, 136}},
	{IQ4_NLR16, IQ4_NL, typeInfo{"iq4_nl_r16", 64, 36}}, // blocks of 64: two IQ4_NL blocks
	{Q4_1R16, Q4_1, typeInfo{"q4_1_r16", 64, 40}},       // blocks of 64: two Q4_1 blocks
	{Q5_1R16, Q5_1, typeInfo{"q5_1_r16", 64, 48}},       // blocks of 64: two Q5_1 blocks
}

// RepackSource is the source type of a repacked type t; false for any other type.
func RepackSource(t Type) (Type, bool) {
	for _, ri := range repackedInfos {
		if ri.t == t {
			return ri.source, true
		}
	}
	return 0, false
}

// ParseKernelType is ParseType that also knows the repacked types' names
// ("q8_0_r16"), which benchmarks time beside the file types.
func ParseKernelType(s string) (Type, error) {
	for _, ri := range repackedInfos {
		if strings.EqualFold(ri.name, s) {
			return ri.t, nil
		}
	}
	return ParseType(s)
}

// QK8_0 is the number of elements in one Q8_0 block (34 bytes: f16 scale + 32 int8).
const QK8_0 = 32

// typeInfo is a type's user-facing name, elements per block and bytes per block.
type typeInfo struct {
	name         string
	block, bytes int
}

// typeInfos lists every type the kernels read, in the order ParseType's error names them.
var typeInfos = []struct {
	t Type
	typeInfo
}{
	{F32, typeInfo{"f32", 1, 4}},
	{F16, typeInfo{"f16", 1, 2}},
	{BF16, typeInfo{"bf16", 1, 2}},
	{Q8_0, typeInfo{"q8_0", 32, 34}},
	{Q4_0, typeInfo{"q4_0", 32, 18}},
	{Q4_1, typeInfo{"q4_1", 32, 20}},
	{Q5_0, typeInfo{"q5_0", 32, 22}},
	{Q5_1, typeInfo{"q5_1", 32, 24}},
	{IQ4_NL, typeInfo{"iq4_nl", 32, 18}},
	{Q2_K, typeInfo{"q2_k", 256, 84}},
	{Q3_K, typeInfo{"q3_k", 256, 110}},
	{Q4_K, typeInfo{"q4_k", 256, 144}},
	{Q5_K, typeInfo{"q5_k", 256, 176}},
	{Q6_K, typeInfo{"q6_k", 256, 210}},
	{IQ4_XS, typeInfo{"iq4_xs", 256, 136}},
}

func (t Type) info() (typeInfo, bool) {
	for _, ri := range repackedInfos {
		if ri.t == t {
			return ri.typeInfo, true
		}
	}
	for _, ti := range typeInfos {
		if ti.t == t {
			return ti.typeInfo, true
		}
	}
	return typeInfo{}, false
}

// Types lists every type the kernels read.
func Types() []Type {
	out := make([]Type, len(typeInfos))
	for i, ti := range typeInfos {
		out[i] = ti.t
	}
	return out
}

func (t Type) String() string {
	if ti, ok := t.info(); ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", int32(t))
}

// BlockSize is the number of elements in one block of t (1 for float
// types), or 0 if the kernels do not read t.
func (t Type) BlockSize() int {
	ti, _ := t.info()
	return ti.block
}

// ParseType reads a type name as written by users ("f32", "q8_0", "q4_k";
// case-insensitive).
func ParseType(s string) (Type, error) {
	for _, ti := range typeInfos {
		if strings.EqualFold(ti.name, s) {
			return ti.t, nil
		}
	}
	names := make([]string, len(typeInfos))
	for i, ti := range typeInfos {
		names[i] = ti.name
	}
	return 0, fmt.Errorf("unknown tensor type %q (want one of %s)", s, strings.Join(names, ", "))
}

// RowSize is the byte size of one row of k elements of type t, or 0 when t
// is unknown or k is not a multiple of t's block size.
func RowSize(t Type, k int) int {
	ti, ok := t.info()
	if !ok || k <= 0 || k%ti.block != 0 {
		return 0
	}
	return k / ti.block * ti.bytes
}

// ISA is a kernel variant.
type ISA int32

// Kernel variants, numbered as kiln_isa in kiln.h.
const (
	Scalar ISA = 0
	AVX2   ISA = 1
	AVX512 ISA = 2
	AMX    ISA = 3 // AVX-512 with AMX-INT8 tiles (the OS must grant the tile state)
)

// AllISAs lists every variant, reference first.
var AllISAs = []ISA{Scalar, AVX2, AVX512, AMX}

func (i ISA) String() string {
	switch i {
	case Scalar:
		return "scalar"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	case AMX:
		return "amx"
	}
	return fmt.Sprintf("isa(%d)", int32(i))
}

// ParseISA reads "scalar", "avx2", "avx512" or "amx".
func ParseISA(s string) (ISA, error) {
	for _, i := range AllISAs {
		if i.String() == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown kernel variant %q (want scalar, avx2, avx512 or amx): %w", s, ErrISA)
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
