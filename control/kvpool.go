package control

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrKVPoolTooSmall marks a K/V budget that cannot hold even one sequence of
// the session length; SizeKVPool wraps it with the figures.
var ErrKVPoolTooSmall = errors.New("control: K/V pool too small")

// defaultSessionLen is the session length of a model that states no
// trained context.
const defaultSessionLen = 2048

// KVPoolSpec is what sizing one replica's K/V pool weighs: the memory it may
// take, the size of a block, and how much context the sequences want.
type KVPoolSpec struct {
	// Budget is the bytes this replica's pool may take.
	Budget int64
	// BlockSize is tokens per block; BlockBytes the memory one block takes
	// across all layers (model.KVBlockBytes).
	BlockSize  int
	BlockBytes int64
	// SessionLen is the context one sequence may hold in tokens; 0 means
	// ModelContext, and that 0 too means 2048.
	SessionLen   int
	ModelContext int
	// MaxNumSeqs is the most sequences running at once: the pool holds no
	// more than they can fill.
	MaxNumSeqs int
}

// KVPoolSize is the outcome of SizeKVPool.
type KVPoolSize struct {
	SessionLen int // the session length the pool was sized for
	Blocks     int // blocks of the pool
}

// SizeKVPool sizes one replica's pool: as many blocks as Budget buys, capped
// at what MaxNumSeqs sequences of the session length need. A budget below one
// sequence's need is an ErrKVPoolTooSmall.
func SizeKVPool(s KVPoolSpec) (KVPoolSize, error) {
	if s.BlockSize <= 0 || s.BlockBytes <= 0 || s.MaxNumSeqs <= 0 {
		return KVPoolSize{}, fmt.Errorf("control: K/V pool: block size %d, block bytes %d, max sequences %d: want all positive",
			s.BlockSize, s.BlockBytes, s.MaxNumSeqs)
	}
	sessionLen := s.SessionLen
	if sessionLen == 0 {
		sessionLen = s.ModelContext
	}
	if sessionLen <= 0 {
		sessionLen = defaultSessionLen
	}
	perSeq := (sessionLen + s.BlockSize - 1) / s.BlockSize
	need := int64(perSeq) * int64(s.MaxNumSeqs)
	blocks := min(need, max(s.Budget, 0)/s.BlockBytes)
	if blocks < int64(perSeq) {
		return KVPoolSize{}, fmt.Errorf("%w: %d bytes hold %d blocks of %d tokens (%d bytes each), less than one sequence of session_len %d needs (%d)",
			ErrKVPoolTooSmall, s.Budget, blocks, s.BlockSize, s.BlockBytes, sessionLen, perSeq)
	}
	return KVPoolSize{SessionLen: sessionLen, Blocks: int(blocks)}, nil
}

// KVBudget is one replica's share of fraction of the available memory when
// the pool is sized from memory rather than given in bytes.
func KVBudget(available int64, fraction float64, replicas int) int64 {
	return int64(fraction * float64(available) / float64(max(replicas, 1)))
}

// fallbackMemory is what AvailableMemory assumes where the system does not
// say.
const fallbackMemory = 4 << 30

// AvailableMemory is the memory this process may still take: the smaller of
// /proc/meminfo's MemAvailable and the room left under its memory cgroup's
// limit (a container's --memory or a Kubernetes limit, which MemAvailable
// does not see), or 4 GiB where neither can be read.
func AvailableMemory() int64 {
	return availableMemory(os.ReadFile)
}

// availableMemory is AvailableMemory reading files through read.
func availableMemory(read func(string) ([]byte, error)) int64 {
	// A memory cgroup's limit and usage, v2 then v1, as seen from inside a
	// container (its cgroup namespace's root).
	cgroupFiles := [...][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	}
	avail := int64(-1)
	if b, err := read("/proc/meminfo"); err == nil {
		if n, ok := memAvailable(string(b)); ok {
			avail = n
		}
	}
	for _, f := range cgroupFiles {
		limit, lok := readBytesFile(read, f[0])
		usage, uok := readBytesFile(read, f[1])
		if !lok || !uok || limit >= 1<<60 { // "max", or v1's unlimited page-rounded MaxInt64
			continue
		}
		if room := max(limit-usage, 0); avail < 0 || room < avail {
			avail = room
		}
		break
	}
	if avail < 0 {
		return fallbackMemory
	}
	return avail
}

// readBytesFile reads a cgroup file holding one byte count.
func readBytesFile(read func(string) ([]byte, error), path string) (int64, bool) {
	b, err := read(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil && n >= 0
}

// memAvailable finds MemAvailable (in kB) in the text of /proc/meminfo.
func memAvailable(meminfo string) (int64, bool) {
	for line := range strings.SplitSeq(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && kb >= 0 {
					return kb << 10, true
				}
			}
		}
	}
	return 0, false
}
