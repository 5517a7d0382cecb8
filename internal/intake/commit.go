package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
)

// commitSmall commits a batch of small requests as one ingest run and
// answers each. A request that sent records the transform rejects gets the
// *archive.TransformError for its own records and the others are committed
// without it; if the batch fails on other data (a constraint), each request
// is tried again on its own. Either way only the request at fault fails.
func (g *group) commitSmall(ctx context.Context, batch []*pending) {
	for {
		err := g.commitTogether(ctx, batch)
		if te := (*archive.TransformError)(nil); errors.As(err, &te) {
			if rest := blame(batch, te); len(rest) > 0 && len(rest) < len(batch) {
				batch = rest
				continue
			}
		}
		if err != nil && len(batch) > 1 && isDataError(err) {
			for _, p := range batch {
				g.commitSmall(ctx, []*pending{p})
			}
			return
		}
		answerAll(batch, err)
		return
	}
}

// answerAll answers the requests of a batch that ended with err.
func answerAll(batch []*pending, err error) {
	for _, p := range batch {
		switch {
		case p.keyErr != nil:
			p.answer(Result{}, p.keyErr)
		case p.replay != nil:
			p.answer(*p.replay, nil)
		case err != nil:
			p.answer(Result{}, err)
		case p.dupOf != nil:
			res := p.dupOf.res
			res.Replayed = true
			p.answer(res, nil)
		default:
			p.answer(p.res, nil)
		}
	}
}

// blame answers the requests that sent the records te names with a
// TransformError of their own (positions in their own records) and returns
// the other requests.
func blame(batch []*pending, te *archive.TransformError) []*pending {
	var rest []*pending
	for _, p := range batch {
		mine := p.own(te.Records)
		if len(mine) == 0 {
			rest = append(rest, p)
			continue
		}
		p.answer(Result{}, &archive.TransformError{Dataset: te.Dataset, Records: mine, More: te.More})
	}
	return rest
}

// own returns the records of recs (positions in the batch) that p sent,
// with positions in p's records.
func (p *pending) own(recs []archive.RecordError) []archive.RecordError {
	var out []archive.RecordError
	for _, r := range recs {
		if i := int64(r.Index) - p.offset; p.count > 0 && i >= 0 && i < p.count {
			r.Index = int(i + p.skip)
			out = append(out, r)
		}
	}
	return out
}

// commitTogether stores the batch's records in one transaction.
func (g *group) commitTogether(ctx context.Context, batch []*pending) error {
	spec := batch[0].spec
	_, err := g.arch.IngestRun(ctx, spec, func(runID int64, rep *archive.IngestReport) error {
		res, err := g.arch.IngestBatch(ctx, spec, runID, func(ctx context.Context, tx pgx.Tx) ([][]byte, archive.BatchHook, error) {
			return planBatch(ctx, tx, spec.Dataset, batch, g.trail)
		})
		if err == nil {
			for _, p := range batch {
				rep.Records += p.res.Records
				rep.Bytes += p.res.Bytes
			}
			rep.Batches, rep.Objects, rep.Quarantined = 1, res.Days, res.Quarantined
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("ingest %s: %w", spec.Dataset, err)
	}
	return nil
}

// planBatch runs in the batch's transaction, under the dataset's lock: it
// settles each request's idempotency key against what is committed and
// returns the records to store, and the hook that fills in the answers and
// records the keys in the same transaction.
func planBatch(ctx context.Context, tx pgx.Tx, dataset string, batch []*pending, trail *audit.Trail) ([][]byte, archive.BatchHook, error) {
	var keys []string
	for _, p := range batch {
		p.skip, p.offset, p.count, p.dupOf, p.replay, p.keyErr, p.res = 0, 0, 0, nil, nil, nil, Result{}
		if p.req.Key != "" {
			keys = append(keys, p.req.Key)
		}
	}
	known, err := catalog.LockIngestKeys(ctx, tx, dataset, keys)
	if err != nil {
		return nil, nil, err
	}
	first := map[string]*pending{}
	var recs [][]byte
	var storing []*pending
	for _, p := range batch {
		if !settleKey(p, known, first) {
			continue
		}
		p.offset = int64(len(recs))
		recs = append(recs, p.req.Records.slice(p.skip)...)
		p.count = int64(len(recs)) - p.offset
		storing = append(storing, p)
	}
	hook := func(ctx context.Context, tx pgx.Tx, res archive.BatchResult) error {
		var saved []catalog.IngestKey
		for _, p := range storing {
			rs := p.req.Records
			p.res = Result{IngestReport: archive.IngestReport{Records: rs.N, Batches: 1, Bytes: rs.Bytes,
				Objects: res.Days, Quarantined: p.own(res.Quarantined)}}
			if p.req.Key == "" {
				continue
			}
			k, err := keyRow(dataset, p, rs.N, true)
			if err != nil {
				return err
			}
			saved = append(saved, k)
		}
		if err := catalog.SaveIngestKeys(ctx, tx, saved, batch[0].opts.KeyWindow); err != nil {
			return err
		}
		return auditBatch(ctx, tx, trail, storing, len(res.Days))
	}
	return recs, hook, nil
}

// auditBatch appends the audit records of the batch's requests, with their
// counts, in one statement of the batch's transaction (last, as it takes
// the trail's lock until the commit).
func auditBatch(ctx context.Context, tx pgx.Tx, trail *audit.Trail, storing []*pending, objects int) error {
	if trail == nil {
		return nil
	}
	var recs []audit.Record
	var audited []*pending
	for _, p := range storing {
		if p.req.Audit == nil {
			continue
		}
		r := *p.req.Audit
		r.Rows, r.Objects = p.res.Records, int64(objects)
		recs, audited = append(recs, r), append(audited, p)
	}
	if _, err := trail.AppendTx(ctx, tx, recs...); err != nil {
		return err
	}
	for _, p := range audited {
		p.res.Audited = true
	}
	return nil
}

// settleKey decides what p's idempotency key asks for, and reports
// whether p's records are to be stored.
func settleKey(p *pending, known map[string]catalog.IngestKey, first map[string]*pending) bool {
	key := p.req.Key
	if key == "" {
		return true
	}
	sum := p.req.Records.SHA256()
	if k, ok := known[key]; ok {
		switch {
		case k.SHA256 != sum:
			p.keyErr = conflict(key, k.Records, p.req.Records.N)
		case k.Done:
			var res Result
			if err := json.Unmarshal(k.Answer, &res.IngestReport); err != nil {
				p.keyErr = fmt.Errorf("idempotency key %q: its recorded answer does not read: %w", key, err)
				return false
			}
			res.Replayed = true
			p.replay = &res
		default:
			p.skip = k.Stored // an earlier request stored the first ones
			return true
		}
		return false
	}
	if q := first[key]; q != nil {
		if q.req.Records.SHA256() != sum {
			p.keyErr = conflict(key, q.req.Records.N, p.req.Records.N)
		} else {
			p.dupOf = q
		}
		return false
	}
	first[key] = p
	return true
}

// keyRow is the row recording p's key once stored of its records are
// committed.
func keyRow(dataset string, p *pending, stored int64, done bool) (catalog.IngestKey, error) {
	k := catalog.IngestKey{Dataset: dataset, Key: p.req.Key, SHA256: p.req.Records.SHA256(),
		Records: p.req.Records.N, Stored: stored, Done: done}
	if done {
		b, err := json.Marshal(p.res.IngestReport)
		if err != nil {
			return k, err
		}
		k.Answer = b
	}
	return k, nil
}

func conflict(key string, had, got int64) error {
	return fmt.Errorf("%w: key %q was first sent with other records (%d then, %d now); nothing was stored: "+
		"use a new key for new records, and the same key only to retry the very same request", ErrKeyConflict, key, had, got)
}

// isDataError reports whether err is the database refusing the data (SQL
// classes 22, data exception, and 23, integrity constraint violation), as
// opposed to an outage or a bug.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	return pe.Code[:2] == "22" || pe.Code[:2] == "23"
}
