// Package native is kiln's Go API over the C/SIMD kernel library in csrc/.
//
// Two bindings implement it with the same functions and the same tests: cgo
// (the default: `go build` compiles csrc itself) and purego (build tag
// `purego`, CGO_ENABLED=0: libkiln.so is dlopened from $KILN_KERNELS_LIB or
// from beside the executable). Every function validates slice lengths on the
// Go side (C cannot see them), then makes exactly one call into C, which
// splits the rows over its own persistent thread pool.
package native

import (
	"errors"
	"fmt"
	"os"
	"unsafe"
)

// Init starts the kernel thread pool with n threads (n <= 0: one per CPU)
// and picks the kernel variant (the best the CPU runs, or $KILN_ISA).
// Kernels call it implicitly with 0 if it was never called.
func Init(threads int) error {
	if err := load(); err != nil {
		return err
	}
	err := check("init", bInit(int32(threads)))
	if errors.Is(err, ErrISA) {
		return fmt.Errorf("KILN_ISA=%q: %w", os.Getenv("KILN_ISA"), err)
	}
	return err
}

// Shutdown stops the pool's threads; a later call re-initialises.
func Shutdown() {
	if load() == nil {
		bShutdown()
	}
}

// Threads is the pool size including the calling thread.
func Threads() int {
	if load() != nil {
		return 1
	}
	return int(bThreads())
}

// Version is the kernel library's version string.
func Version() string {
	if load() != nil {
		return "unavailable"
	}
	return bVersion()
}

// CPUFeatures names the SIMD features this CPU (and OS) supports.
func CPUFeatures() []string {
	if load() != nil {
		return nil
	}
	bits := bCPUFeatures()
	var names []string
	for i, name := range cpuFeatureNames {
		if bits&(1<<uint(i)) != 0 {
			names = append(names, name)
		}
	}
	return names
}

// Supported reports whether this CPU can run variant isa.
func Supported(isa ISA) bool {
	return load() == nil && bISASupported(int32(isa)) == 1
}

// UnsupportedReason says why this machine cannot run variant isa (for
// example "amx: not permitted by the OS (...)"), or "" if it can.
func UnsupportedReason(isa ISA) string {
	if err := load(); err != nil {
		return err.Error()
	}
	return bISAUnsupportedReason(int32(isa))
}

// CurrentISA is the variant kernels use now.
func CurrentISA() ISA {
	if load() != nil {
		return Scalar
	}
	return ISA(bGetISA())
}

// SetISA forces a variant for every later call (tests and benchmarks).
func SetISA(isa ISA) error {
	if err := load(); err != nil {
		return err
	}
	return check("set_isa", bSetISA(int32(isa)))
}

// Kernel is one entry of the active variant's kernel table: what a kernel
// (Name: "ops", "attention", "gemv q8_0", ...) runs on this CPU (Variant).
type Kernel struct {
	Name    string
	Variant string
}

// Kernels lists the active variant's kernel table, entry by entry.
func Kernels() []Kernel {
	if load() != nil {
		return nil
	}
	n := int(bKernelCount())
	out := make([]Kernel, 0, n)
	for i := range n {
		out = append(out, Kernel{Name: bKernelName(int32(i)), Variant: bKernelVariant(int32(i))})
	}
	return out
}

// ptr is the address of a slice's first element (nil for an empty slice).
func ptr[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(s))
}
