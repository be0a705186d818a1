package server

import (
	"container/list"
	"encoding/json"
	"sync"

	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// Bounds of the Responses store: it keeps the most recently used
// responses, at most this many and about this many bytes of conversation;
// beyond either bound the least recently used are forgotten (a later
// previous_response_id naming one answers 404).
const (
	defaultResponseStoreEntries = 1024
	responseStoreBytes          = 64 << 20
)

// storedResponse is a stored response: the object GET returns and the
// conversation a follow-up continues (its input and output as chat
// messages, without the instructions, which a follow-up does not inherit).
type storedResponse struct {
	resp    openai.Response
	history []chat.Message
	size    int
}

// responseStore is an LRU of stored responses, safe for concurrent use.
type responseStore struct {
	mu       sync.Mutex
	entries  int
	bytes    int
	maxBytes int
	order    *list.List // of *storedResponse, most recent first
	byID     map[string]*list.Element
}

func newResponseStore(entries int) *responseStore {
	if entries <= 0 {
		entries = defaultResponseStoreEntries
	}
	return &responseStore{entries: entries, maxBytes: responseStoreBytes, order: list.New(), byID: map[string]*list.Element{}}
}

// historySize is the approximate memory a conversation holds.
func historySize(msgs []chat.Message) int {
	n := 0
	for _, m := range msgs {
		n += 64 + len(m.Role) + len(m.ToolCallID)
		if s, ok := m.Content.(string); ok {
			n += len(s)
		}
		for _, c := range m.ToolCalls {
			n += 64 + len(c.ID) + len(c.Function.Name)
			if a, ok := c.Function.Arguments.(string); ok {
				n += len(a)
			}
		}
	}
	return n
}

// put stores r (replacing one of the same id) and evicts the least
// recently used beyond the bounds.
func (s *responseStore) put(r *storedResponse) {
	body, _ := json.Marshal(&r.resp)
	r.size = historySize(r.history) + len(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[r.resp.ID]; ok {
		s.remove(e)
	}
	s.byID[r.resp.ID] = s.order.PushFront(r)
	s.bytes += r.size
	for s.order.Len() > s.entries || (s.bytes > s.maxBytes && s.order.Len() > 1) {
		s.remove(s.order.Back())
	}
}

func (s *responseStore) remove(e *list.Element) {
	r := s.order.Remove(e).(*storedResponse)
	delete(s.byID, r.resp.ID)
	s.bytes -= r.size
}

// get returns the response called id and marks it recently used.
func (s *responseStore) get(id string) (*storedResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	s.order.MoveToFront(e)
	return e.Value.(*storedResponse), true
}

// delete forgets id, reporting whether it was stored.
func (s *responseStore) delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if ok {
		s.remove(e)
	}
	return ok
}

// len is the number of stored responses.
func (s *responseStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}
