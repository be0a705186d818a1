package control

import (
	"errors"
	"os"
	"testing"
)

func TestSizeKVPool(t *testing.T) {
	const blk = 1000 // bytes per block
	base := KVPoolSpec{BlockSize: 16, BlockBytes: blk, MaxNumSeqs: 4, ModelContext: 160}
	tests := []struct {
		name     string
		edit     func(s *KVPoolSpec)
		want     KVPoolSize
		tooSmall bool
	}{
		{"capped at max_num_seqs full sessions", func(s *KVPoolSpec) { s.Budget = 1 << 30 }, KVPoolSize{SessionLen: 160, Blocks: 40}, false},
		{"budget bound", func(s *KVPoolSpec) { s.Budget = 25*blk + 999 }, KVPoolSize{SessionLen: 160, Blocks: 25}, false},
		{"explicit session length rounds up to blocks", func(s *KVPoolSpec) { s.Budget = 1 << 30; s.SessionLen = 17 }, KVPoolSize{SessionLen: 17, Blocks: 8}, false},
		{"no model context: 2048", func(s *KVPoolSpec) { s.Budget = 1 << 30; s.ModelContext = 0; s.MaxNumSeqs = 1 }, KVPoolSize{SessionLen: 2048, Blocks: 128}, false},
		{"exactly one sequence", func(s *KVPoolSpec) { s.Budget = 10 * blk }, KVPoolSize{SessionLen: 160, Blocks: 10}, false},
		{"less than one sequence", func(s *KVPoolSpec) { s.Budget = 10*blk - 1 }, KVPoolSize{}, true},
		{"negative budget", func(s *KVPoolSpec) { s.Budget = -1 }, KVPoolSize{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			got, err := SizeKVPool(s)
			if tc.tooSmall {
				if !errors.Is(err, ErrKVPoolTooSmall) {
					t.Fatalf("SizeKVPool = %+v, %v; want ErrKVPoolTooSmall", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("SizeKVPool = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	t.Run("bad spec", func(t *testing.T) {
		if _, err := SizeKVPool(KVPoolSpec{Budget: 1 << 20, BlockSize: 16}); err == nil || errors.Is(err, ErrKVPoolTooSmall) {
			t.Fatalf("zero block bytes: %v", err)
		}
	})
}

func TestKVBudget(t *testing.T) {
	tests := []struct {
		avail    int64
		fraction float64
		replicas int
		want     int64
	}{
		{1000, 0.8, 1, 800},
		{1000, 0.8, 2, 400},
		{1000, 0.5, 0, 500},
	}
	for _, tc := range tests {
		if got := KVBudget(tc.avail, tc.fraction, tc.replicas); got != tc.want {
			t.Errorf("KVBudget(%d, %g, %d) = %d, want %d", tc.avail, tc.fraction, tc.replicas, got, tc.want)
		}
	}
}

func TestMemAvailable(t *testing.T) {
	tests := []struct {
		name, text string
		want       int64
		ok         bool
	}{
		{"present", "MemTotal:       16000000 kB\nMemFree:   100 kB\nMemAvailable:    8000000 kB\n", 8000000 << 10, true},
		{"absent", "MemTotal:       16000000 kB\n", 0, false},
		{"garbled", "MemAvailable: lots kB\n", 0, false},
		{"negative", "MemAvailable: -5 kB\n", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := memAvailable(tc.text)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("memAvailable = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if AvailableMemory() <= 0 {
		t.Error("AvailableMemory is not positive")
	}
}

func TestAvailableMemoryCgroup(t *testing.T) {
	const meminfo = "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n" // 8,192,000,000 bytes
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"meminfo only", map[string]string{"/proc/meminfo": meminfo}, 8000000 << 10},
		{"v2 limit below MemAvailable", map[string]string{"/proc/meminfo": meminfo,
			"/sys/fs/cgroup/memory.max": "2147483648\n", "/sys/fs/cgroup/memory.current": "536870912\n"}, 1610612736},
		{"v2 unlimited", map[string]string{"/proc/meminfo": meminfo,
			"/sys/fs/cgroup/memory.max": "max\n", "/sys/fs/cgroup/memory.current": "536870912\n"}, 8000000 << 10},
		{"v2 limit above MemAvailable", map[string]string{"/proc/meminfo": meminfo,
			"/sys/fs/cgroup/memory.max": "68719476736\n", "/sys/fs/cgroup/memory.current": "0\n"}, 8000000 << 10},
		{"v1 limit", map[string]string{"/proc/meminfo": meminfo,
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n", "/sys/fs/cgroup/memory/memory.usage_in_bytes": "73741824\n"}, 1000000000},
		{"v1 unlimited", map[string]string{"/proc/meminfo": meminfo,
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n", "/sys/fs/cgroup/memory/memory.usage_in_bytes": "1\n"}, 8000000 << 10},
		{"over the limit", map[string]string{"/proc/meminfo": meminfo,
			"/sys/fs/cgroup/memory.max": "100\n", "/sys/fs/cgroup/memory.current": "200\n"}, 0},
		{"cgroup only", map[string]string{
			"/sys/fs/cgroup/memory.max": "1000\n", "/sys/fs/cgroup/memory.current": "1\n"}, 999},
		{"nothing readable", map[string]string{}, fallbackMemory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := func(path string) ([]byte, error) {
				if s, ok := tc.files[path]; ok {
					return []byte(s), nil
				}
				return nil, os.ErrNotExist
			}
			if got := availableMemory(read); got != tc.want {
				t.Fatalf("availableMemory = %d, want %d", got, tc.want)
			}
		})
	}
}
