package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
)

// commitLarge stores a request that does not fit one batch (or is not held
// in memory) on its own, as one run of as many batches as it needs, each
// committed with the count of the request's records stored so far under
// its idempotency key, so a retry with the key resumes after them.
func (g *group) commitLarge(ctx context.Context, p *pending) {
	spec := p.spec
	rs := p.req.Records
	var pos int64 // records of the request committed, by earlier requests too
	if p.req.Key != "" {
		k, ok, err := catalog.ReadIngestKey(ctx, g.arch.Catalog.Pool(), spec.Dataset, p.req.Key)
		switch {
		case err != nil:
			p.answer(Result{}, err)
			return
		case ok && k.SHA256 != rs.SHA256():
			p.answer(Result{}, conflict(p.req.Key, k.Records, rs.N))
			return
		case ok && k.Done:
			res := Result{Replayed: true}
			if err := json.Unmarshal(k.Answer, &res.IngestReport); err != nil {
				p.answer(Result{}, fmt.Errorf("idempotency key %q: its recorded answer does not read: %w", p.req.Key, err))
				return
			}
			p.answer(res, nil)
			return
		case ok:
			pos = k.Stored
		}
	}
	for i := int64(0); i < pos; i++ {
		if _, err := rs.next(); err != nil {
			p.answer(Result{}, fmt.Errorf("skip the %d records stored before: %w", pos, err))
			return
		}
	}
	rep, err := g.arch.IngestRun(ctx, spec, func(runID int64, rep *archive.IngestReport) error {
		return g.largeBatches(ctx, p, runID, pos, rep)
	})
	if err != nil {
		err = fmt.Errorf("ingest %s batch %d (the batches before it are stored): %w", spec.Dataset, rep.Batches+1, err)
	}
	rep.Records += pos // stored by an earlier request with the key
	p.answer(Result{IngestReport: rep}, err)
}

// largeBatches stores the request's records from pos on, batch by batch.
func (g *group) largeBatches(ctx context.Context, p *pending, runID, pos int64, rep *archive.IngestReport) error {
	spec, rs := p.spec, p.req.Records
	for pos < rs.N {
		recs, size, err := readBatch(rs, spec)
		if err != nil {
			return err
		}
		from := pos
		res, err := g.arch.IngestBatch(ctx, spec, runID, func(ctx context.Context, tx pgx.Tx) ([][]byte, archive.BatchHook, error) {
			return recs, func(ctx context.Context, tx pgx.Tx, res archive.BatchResult) error {
				return saveProgress(ctx, tx, p, from, int64(len(recs)), *rep, res)
			}, nil
		})
		if te := (*archive.TransformError)(nil); errors.As(err, &te) {
			shift(te.Records, from)
		}
		if err != nil {
			return err
		}
		pos += int64(len(recs))
		rep.Batches++
		rep.Records += int64(len(recs))
		rep.Bytes += size
		rep.Objects = append(rep.Objects, res.Days...)
		rep.Quarantined = append(rep.Quarantined, shift(res.Quarantined, from)...)
	}
	return nil
}

// shift adds offset to the records' positions.
func shift(recs []archive.RecordError, offset int64) []archive.RecordError {
	for i := range recs {
		recs[i].Index += int(offset)
	}
	return recs
}

// readBatch reads the next batch of spooled records.
func readBatch(rs *Records, spec archive.SourceSpec) ([][]byte, int64, error) {
	var recs [][]byte
	var size int64
	for len(recs) < spec.BatchMaxRows && size < spec.BatchMaxBytes {
		rec, err := rs.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read spooled records: %w", err)
		}
		recs = append(recs, rec)
		size += int64(len(rec))
	}
	if len(recs) == 0 {
		return nil, 0, errors.New("read spooled records: fewer than counted")
	}
	return recs, size, nil
}

// saveProgress records, in the batch's transaction, that the request's
// records up to from+n are committed (checking that no other request with
// the key got further meanwhile), and its answer once all are.
func saveProgress(ctx context.Context, tx pgx.Tx, p *pending, from, n int64, rep archive.IngestReport, res archive.BatchResult) error {
	if p.req.Key == "" {
		return nil
	}
	dataset := p.spec.Dataset
	known, err := catalog.LockIngestKeys(ctx, tx, dataset, []string{p.req.Key})
	if err != nil {
		return err
	}
	if k, ok := known[p.req.Key]; (ok && k.Stored != from) || (!ok && from != 0) {
		return fmt.Errorf("idempotency key %q: another request with this key stored records meanwhile; nothing of this batch was stored: retry", p.req.Key)
	}
	done := from+n == p.req.Records.N
	if done {
		rep.Batches++
		rep.Records = from + n
		rep.Bytes = p.req.Records.Bytes
		rep.Objects = append(rep.Objects, res.Days...)
		rep.Quarantined = append(rep.Quarantined, shift(slices.Clone(res.Quarantined), from)...)
		p.res = Result{IngestReport: rep}
	}
	k, err := keyRow(dataset, p, from+n, done)
	if err != nil {
		return err
	}
	return catalog.SaveIngestKeys(ctx, tx, []catalog.IngestKey{k}, p.opts.KeyWindow)
}
