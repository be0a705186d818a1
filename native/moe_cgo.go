//go:build cgo && !purego

package native

/*
#cgo CFLAGS: -O3 -D_GNU_SOURCE -std=gnu11 -I${SRCDIR}/../csrc/include -I${SRCDIR}/../csrc
#include "kiln.h"
*/
import "C"

import "unsafe"

func bMoEFFN(s *moeShape, gate, up, down, x, pick, weight, y unsafe.Pointer) int32 {
	return int32(C.kiln_moe_ffn((*C.kiln_moe_shape)(unsafe.Pointer(s)), gate, up, down,
		(*C.float)(x), (*C.int32_t)(pick), (*C.float)(weight), (*C.float)(y)))
}
