package configs

import "testing"

// TestDraftModelImpliesDraft: draft_model alone turns on the draft method
// and draft_kv_cache_size is parsed.
func TestDraftModelImpliesDraft(t *testing.T) {
	m := modelFile(t)
	c := Defaults()
	c.Model, c.DraftModel, c.DraftKVCacheSize = m, m, "64MiB"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Speculative != "draft" || c.DraftKVCacheBytes != 64<<20 {
		t.Errorf("speculative %q, draft K/V %d bytes: want draft, %d", c.Speculative, c.DraftKVCacheBytes, 64<<20)
	}
}
