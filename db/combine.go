// Group commit: concurrent requests' writes of one kind, run together as
// one statement in one transaction.
package db

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// combiner runs the items that concurrent callers hand it in batches: while
// `parallel` batches are running, new items queue, and the next free runner
// takes everything queued (up to max) as its batch. A lone caller's item
// runs at once, alone; under load each commit carries many items, so that
// PostgreSQL's per-statement and per-commit work (parse, plan, snapshot,
// locks, WAL flush, the trigger calls of a statement) is paid once per batch
// rather than once per request. Nothing waits for a timer.
//
// run answers one result per item, in order. When it fails as a whole for
// a batch of several, each item is run again alone, so that one item's
// error (bad data, a constraint) is its own and does not fail the others;
// an outage (EUNAVAILABLE) is answered to all at once instead.
//
// Written by hand: this is the small leader/follower queue that group commit
// needs around our own statements, which no maintained library offers for
// pgx.
type combiner[In, Out any] struct {
	run      func(ctx context.Context, batch []In) ([]Out, error)
	max      int
	parallel int
	timeout  time.Duration
	// weight, when set, is an item's size, and a batch holds items of at
	// most maxWeight in all (or one item, whatever its weight).
	weight    func(In) int
	maxWeight int

	mu      sync.Mutex
	queue   []*combined[In, Out]
	running int
}

type combined[In, Out any] struct {
	ctx  context.Context
	in   In
	out  Out
	err  error
	done chan struct{}
}

var errBatchAnswer = errors.New("a batch answered a different number of results than it had items")

func newCombiner[In, Out any](max, parallel int, run func(context.Context, []In) ([]Out, error)) *combiner[In, Out] {
	return &combiner[In, Out]{run: run, max: max, parallel: parallel, timeout: 30 * time.Second}
}

// do hands in one item and waits for its result. A caller whose context
// ends stops waiting; its item, once taken into a batch, may still commit,
// as a request's statement may after its client went away.
func (c *combiner[In, Out]) do(ctx context.Context, in In) (Out, error) {
	call := &combined[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	lead := c.running < c.parallel
	if lead {
		c.running++
	}
	c.mu.Unlock()
	if lead {
		go c.drain()
	}
	select {
	case <-call.done:
		return call.out, call.err
	case <-ctx.Done():
		var zero Out
		return zero, Translate(ctx.Err())
	}
}

// drain runs batches until the queue is empty.
func (c *combiner[In, Out]) drain() {
	for {
		c.mu.Lock()
		// Items whose callers have gone are dropped before they are sent.
		live := c.queue[:0]
		for _, call := range c.queue {
			if call.ctx.Err() == nil {
				live = append(live, call)
			} else {
				close(call.done)
			}
		}
		c.queue = live
		if len(c.queue) == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		n := c.take()
		batch := make([]*combined[In, Out], n)
		copy(batch, c.queue)
		c.queue = append(c.queue[:0], c.queue[n:]...)
		c.mu.Unlock()
		c.runBatch(batch)
	}
}

// take counts the queued items the next batch takes: up to max, and up to
// maxWeight when items are weighed. Called with mu held.
func (c *combiner[In, Out]) take() int {
	n := min(len(c.queue), c.max)
	if c.weight == nil {
		return n
	}
	w := 0
	for i, call := range c.queue[:n] {
		if w += c.weight(call.in); w > c.maxWeight && i > 0 {
			return i
		}
	}
	return n
}

func (c *combiner[In, Out]) runBatch(batch []*combined[In, Out]) {
	// The batch is everyone's: no one caller's cancellation ends it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), c.timeout)
	defer cancel()
	ins := make([]In, len(batch))
	for i, call := range batch {
		ins[i] = call.in
	}
	outs, err := c.run(ctx, ins)
	if err == nil && len(outs) != len(batch) {
		err = licensing.Internal(errBatchAnswer)
	}
	if err != nil && len(batch) > 1 && licensing.ErrorCode(err) != licensing.EUNAVAILABLE {
		for _, call := range batch {
			c.runBatch([]*combined[In, Out]{call})
		}
		return
	}
	for i, call := range batch {
		if err != nil {
			call.err = err
		} else {
			call.out = outs[i]
		}
		close(call.done)
	}
}
