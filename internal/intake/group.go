package intake

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
)

// group is one dataset's committer and its queue of requests.
type group struct {
	arch  *archive.Archiver
	trail *audit.Trail
	queue chan *pending
	// last is when the last batch was closed: batches close at least
	// GroupWait apart, so a dataset gets at most one object per GroupWait
	// and ingestion day, whatever the request rate.
	last time.Time
}

// run takes requests in order of arrival and commits them, coalesced,
// until ctx ends; requests still queued then get errClosed.
func (g *group) run(ctx context.Context) {
	var carry *pending
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-g.queue:
			case <-ctx.Done():
				g.drain()
				return
			}
		}
		if first.ctx.Err() != nil { // its client gave up while it waited
			first.answer(Result{}, first.ctx.Err())
			continue
		}
		if !first.small() {
			g.commitLarge(ctx, first)
			continue
		}
		var batch []*pending
		batch, carry = g.collect(ctx, first)
		g.commitSmall(ctx, batch)
	}
}

// drain answers the requests still queued at shutdown.
func (g *group) drain() {
	for {
		select {
		case p := <-g.queue:
			p.answer(Result{}, errClosed)
		default:
			return
		}
	}
}

// small: the request fits one batch and is held in memory, so it can join
// others.
func (p *pending) small() bool {
	rs := p.req.Records
	return rs.InMemory() && rs.N <= int64(p.spec.BatchMaxRows) && rs.Bytes <= p.spec.BatchMaxBytes
}

// collect gathers small requests after first, up to the batch limits,
// until GroupWait has passed since first arrived and since the previous
// batch closed (requests that queued while the previous batch was written
// have usually waited long enough already and go at once). It returns the
// batch and the request that did not fit, if any.
func (g *group) collect(ctx context.Context, first *pending) ([]*pending, *pending) {
	defer func() { g.last = time.Now() }()
	batch := []*pending{first}
	rows, bytes := first.req.Records.N, first.req.Records.Bytes
	maxRows, maxBytes := int64(first.spec.BatchMaxRows), first.spec.BatchMaxBytes
	from := first.arrived
	if g.last.After(from) {
		from = g.last
	}
	timer := time.NewTimer(time.Until(from.Add(first.opts.GroupWait)))
	defer timer.Stop()
	for rows < maxRows && bytes < maxBytes {
		var p *pending
		select {
		case p = <-g.queue:
		default:
			select {
			case p = <-g.queue:
			case <-timer.C:
				return batch, nil
			case <-ctx.Done():
				return batch, nil
			}
		}
		if p.ctx.Err() != nil {
			p.answer(Result{}, p.ctx.Err())
			continue
		}
		rs := p.req.Records
		if !p.small() || rows+rs.N > maxRows || bytes+rs.Bytes > maxBytes {
			return batch, p
		}
		batch = append(batch, p)
		rows, bytes = rows+rs.N, bytes+rs.Bytes
	}
	return batch, nil
}
