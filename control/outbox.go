package control

import "context"

// outbox delivers one request's events on its channel: the events of every
// choice (Event.Index), each choice's merged while the consumer falls
// behind, so the step loop never blocks on a slow reader. Once every choice
// has its final event, whatever is left is handed to a goroutine that lives
// only until it is delivered (or the request's context ends), and the
// channel is closed after it. Owned by the step loop.
type outbox struct {
	ctx     context.Context
	out     chan Event
	pending []Event // per choice, not yet delivered
	final   []bool  // per choice: its final event was put
	open    int     // choices whose final event has not been put
	unwake  func() bool
	closed  bool
}

func newOutbox(ctx context.Context, choices int) *outbox {
	return &outbox{ctx: ctx, out: make(chan Event, eventBuffer),
		pending: make([]Event, choices), final: make([]bool, choices), open: choices}
}

// put adds ev to choice i's pending event; a final event closes the choice
// (later puts for it are ignored).
func (o *outbox) put(i int, ev Event) {
	if o.closed || o.final[i] || ev.empty() {
		return
	}
	o.pending[i].merge(ev)
	if ev.Finish != "" {
		o.final[i] = true
		o.open--
	}
}

// flush sends what it can without blocking; after the last final event it
// stops the context watcher and hands the rest to a goroutine that closes
// the channel.
func (o *outbox) flush() {
	if o.closed {
		return
	}
	for i := range o.pending {
		if o.pending[i].empty() {
			continue
		}
		ev := o.pending[i]
		ev.Index = i
		select {
		case o.out <- ev:
			o.pending[i] = Event{}
		default:
		}
	}
	if o.open > 0 {
		return
	}
	o.closed = true
	if o.unwake != nil {
		o.unwake()
		o.unwake = nil
	}
	var rest []Event
	for i, p := range o.pending {
		if !p.empty() {
			p.Index = i
			rest = append(rest, p)
		}
	}
	o.pending = nil
	out, ctx := o.out, o.ctx
	if len(rest) == 0 {
		close(out)
		return
	}
	go func() {
		defer close(out)
		for _, ev := range rest {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
}
