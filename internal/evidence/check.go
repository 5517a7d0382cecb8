package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgsource"
	"github.com/stratahq/strata/internal/storage"
)

// live counts the period's rows still in the Layer 3 and Layer 2 tables.
func (g *gatherer) live(ctx context.Context) error {
	r := g.rep
	if src := g.ds.Source; src != nil {
		r.Source.Table = src.Table.String()
		pc := ""
		if g.ds.Transform != "" && g.ds.Analytics != nil {
			pc = pgx.Identifier{src.ProcessedColumn}.Sanitize()
		}
		live, err := g.count(ctx, src.Table.String(), src.TimeColumn, pgx.Identifier{src.IDColumn}.Sanitize(), pc)
		if err != nil {
			return err
		}
		r.Source.Live = live
	}
	if an := g.ds.Analytics; an != nil {
		r.Analytics.Table = an.Table.String()
		live, err := g.count(ctx, an.Table.String(), an.TimeColumn, "", "")
		if err != nil {
			return err
		}
		r.Analytics.Live = live
	}
	return nil
}

// count counts table's rows in the period; with idc, also those in a
// committed source batch, and with pc those processed.
func (g *gatherer) count(ctx context.Context, table, timeCol, idc, pc string) (*LiveRows, error) {
	rel, err := pgsource.Resolve(ctx, g.db, table)
	if err != nil {
		g.rep.Integrity.Notes = append(g.rep.Integrity.Notes, fmt.Sprintf("table %s could not be read: %v", table, err))
		return nil, nil
	}
	tc := pgx.Identifier{timeCol}.Sanitize()
	sel, live := `count(*)`, &LiveRows{}
	dest := []any{&live.Rows}
	if idc != "" {
		live.Archived = new(int64)
		sel += `, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $3 AND a.id = s.` + idc + `))`
		dest = append(dest, live.Archived)
	}
	if pc != "" {
		live.Processed = new(int64)
		sel += `, count(*) FILTER (WHERE s.` + pc + `)`
		dest = append(dest, live.Processed)
	}
	args := []any{g.rep.From, g.rep.To}
	if idc != "" {
		args = append(args, g.ds.Name)
	}
	err = g.db.QueryRow(ctx, `SELECT `+sel+` FROM `+rel.Ident()+` s WHERE s.`+tc+` >= $1 AND s.`+tc+` <= $2`, args...).Scan(dest...)
	if err != nil {
		return nil, fmt.Errorf("count rows of %s in the period: %w", rel, err)
	}
	return live, nil
}

// verify reads every listed object that has not expired and checks its
// size and SHA-256 against the catalog.
func verify(ctx context.Context, store storage.Backend, rep *Report) error {
	rep.Integrity.Verified = true
	for _, objs := range [][]Object{rep.Source.Objects, rep.Analytics.Objects} {
		for i := range objs {
			o := &objs[i]
			if o.State == "expired" {
				o.Verified = "expired"
				continue
			}
			v, err := checkObject(ctx, store, o.Key, o.VersionID, o.Bytes, o.SHA256)
			if err != nil {
				return err
			}
			o.Verified = v
		}
	}
	return nil
}

// checkObject returns ok, missing or mismatch; an error only when the
// storage fails.
func checkObject(ctx context.Context, store storage.Backend, key, versionID string, size int64, sum string) (string, error) {
	k, err := storage.ParseKey(key)
	if err != nil {
		return "", fmt.Errorf("object %s: %w", key, err)
	}
	rc, err := storage.OpenVersion(ctx, store, k, versionID, 0, -1)
	if errors.Is(err, storage.ErrNotExist) {
		return "missing", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return "mismatch", nil
	}
	return "ok", nil
}

// check sums the report and states what it shows.
func (r *Report) check() {
	t, in := &r.Totals, &r.Integrity
	in.Problems, in.Notes = []string{}, append([]string{}, in.Notes...)
	r.sumObjects()
	runs, failed := map[int64]bool{}, map[int64]string{}
	for _, b := range r.Batches {
		r.checkBatch(b)
		if b.Kind == catalog.LineageErasure {
			r.countErasure(b)
		}
		if !b.InPeriod {
			continue
		}
		t.Batches++
		if b.Kind == catalog.LineageIngest || b.Kind == catalog.LineageSourceArchive {
			t.IntakeBatches++
			t.RecordsIn += b.Layer3Rows
		}
		t.Layer2RowsWritten += b.Layer2RowsWritten
		if b.RunID != nil {
			runs[*b.RunID] = true
			if b.Run != nil && b.Run.Status == "failed" {
				failed[*b.RunID] = fmt.Sprintf("run %d (%s %s) failed: %s; the batches it committed are listed, nothing of the failed one was kept",
					*b.RunID, b.Run.Command, b.Kind, b.Run.Error)
			}
		}
	}
	t.Runs, t.FailedRuns = len(runs), len(failed)
	for _, msg := range failed {
		in.Notes = append(in.Notes, msg)
	}
	for _, tr := range r.Transforms {
		if tr.Used {
			t.TransformVersions++
			if !tr.Recorded {
				in.Notes = append(in.Notes, fmt.Sprintf("transform version %s is named but its text was never recorded in strata.transforms (rows written before lineage records were kept)", short(tr.Version)))
			}
		}
	}
	if c := r.CurrentTransform; c != nil && c.Differs {
		in.Notes = append(in.Notes, fmt.Sprintf("the current transform (%s, version %s) differs from a version used in the period: both texts are listed", c.Path, short(c.Version)))
	}
	in.Notes = append(in.Notes, r.candidateNotes()...)
	in.Notes = append(in.Notes, r.quarantineNote()...)
	if in.Verified {
		in.Problems = append(in.Problems, r.verifyProblems()...)
	}
	in.OK = len(in.Problems) == 0
	in.Statement = r.statement()
}

func (r *Report) sumObjects() {
	t := &r.Totals
	referenced := map[string]bool{}
	for _, b := range r.Batches {
		for _, k := range b.SourceObjects {
			referenced[k] = true
		}
	}
	unrecorded := 0
	for _, o := range r.Source.Objects {
		t.SourceObjects++
		t.SourceRows += o.Rows
		t.SourceBytes += o.Bytes
		if o.State == catalog.StateCommitted && o.SupersededBy == "" {
			t.SourceRowsCurrent += o.Rows
		}
		if len(o.SHA256) == 64 {
			t.ChecksumsRecorded++
		}
		if !referenced[o.Key] {
			unrecorded++
		}
	}
	for _, o := range r.Analytics.Objects {
		t.AnalyticsObjects++
		t.AnalyticsBytes += o.Bytes
		if o.State == catalog.StateCommitted && o.SupersededBy == "" {
			t.AnalyticsRows += o.Rows
		}
		if len(o.SHA256) == 64 {
			t.ChecksumsRecorded++
		}
	}
	if r.Source.Live != nil {
		t.Layer3LiveRows = r.Source.Live.Rows
	}
	if r.Analytics.Live != nil {
		t.Layer2LiveRows = r.Analytics.Live.Rows
	}
	if unrecorded > 0 {
		r.Integrity.Notes = append(r.Integrity.Notes, fmt.Sprintf("%d source object(s) have no lineage record: archived before lineage records were kept", unrecorded))
	}
}

// countErasure adds an erasure to the totals and says in a note when and
// why it removed what.
func (r *Report) countErasure(b Batch) {
	t := &r.Totals
	num := func(k string) int64 {
		f, _ := b.Detail[k].(float64)
		return int64(f)
	}
	t.Erasures++
	t.RecordsErased += num("records_erased")
	t.RowsErased += num("rows_erased")
	r.Integrity.Notes = append(r.Integrity.Notes, fmt.Sprintf("erasure %d at %s (%v) removed %d raw record(s) and %d analytics row(s) of one data subject, replacing %d object(s): strata erase show %d",
		num("erasure_id"), b.At.Format("2006-01-02T15:04:05Z"), b.Detail["reason"], num("records_erased"), num("rows_erased"), len(b.Superseded), num("erasure_id")))
}

// checkBatch reports a batch whose counts contradict its objects.
func (r *Report) checkBatch(b Batch) {
	in := &r.Integrity
	name := fmt.Sprintf("lineage record %d (%s at %s)", b.ID, b.Kind, b.At.Format("2006-01-02T15:04:05Z"))
	for _, k := range slices.Concat(b.SourceObjects, b.AnalyticsObjects, b.Superseded) {
		if strings.HasPrefix(k, "missing object ") {
			in.Problems = append(in.Problems, fmt.Sprintf("%s names %s: the catalog does not hold it", name, strings.TrimPrefix(k, "missing ")))
		}
	}
	switch b.Kind {
	case catalog.LineageIngest, catalog.LineageSourceArchive:
		if b.SourceObjectRows != b.Layer3Rows {
			in.Problems = append(in.Problems, fmt.Sprintf("%s took in %d records but its source objects hold %d rows", name, b.Layer3Rows, b.SourceObjectRows))
		}
		if b.Layer3FirstID != nil && b.Layer3LastID != nil && *b.Layer3LastID-*b.Layer3FirstID+1 < b.Layer3Rows {
			in.Problems = append(in.Problems, fmt.Sprintf("%s counts %d records in Layer 3 ids %d..%d, more than the range holds", name, b.Layer3Rows, *b.Layer3FirstID, *b.Layer3LastID))
		}
	case catalog.LineageAnalyticsArchive, catalog.LineageRestore:
		var rows int64
		for _, k := range b.AnalyticsObjects {
			for _, o := range r.Analytics.Objects {
				if o.Key == k {
					rows += o.Rows
				}
			}
		}
		if b.Kind == catalog.LineageAnalyticsArchive && rows != b.RowsArchived {
			in.Problems = append(in.Problems, fmt.Sprintf("%s archived %d rows but its objects hold %d", name, b.RowsArchived, rows))
		}
		if b.Kind == catalog.LineageRestore && rows != b.Layer2RowsWritten {
			in.Problems = append(in.Problems, fmt.Sprintf("%s copied back %d rows but its objects hold %d", name, b.Layer2RowsWritten, rows))
		}
	}
}

func (r *Report) verifyProblems() []string {
	var out []string
	in := &r.Integrity
	for _, o := range slices.Concat(r.Source.Objects, r.Analytics.Objects) {
		switch o.Verified {
		case "ok":
			in.ObjectsOK++
		case "missing":
			in.Missing++
			out = append(out, fmt.Sprintf("object %s is missing from the storage", o.Key))
		case "mismatch":
			in.Mismatched++
			out = append(out, fmt.Sprintf("object %s does not match its recorded size and SHA-256 (%s)", o.Key, o.SHA256))
		}
	}
	return out
}

// statement says in one line what the chain shows.
func (r *Report) statement() string {
	t, in := r.Totals, r.Integrity
	var b strings.Builder
	fmt.Fprintf(&b, "%d raw records received in %d batch(es) are held in %d source object(s) (%d rows); ",
		t.RecordsIn, t.IntakeBatches, t.SourceObjects, t.SourceRows)
	fmt.Fprintf(&b, "%d transform version(s) wrote %d Layer 2 row(s); the period's days have %d analytics object(s) (%d current rows) and %d row(s) still in Layer 2; ",
		t.TransformVersions, t.Layer2RowsWritten, t.AnalyticsObjects, t.AnalyticsRows, t.Layer2LiveRows)
	if t.Erasures > 0 {
		fmt.Fprintf(&b, "%d erasure(s) removed %d raw record(s) and %d analytics row(s) since (the current source objects hold %d rows); ",
			t.Erasures, t.RecordsErased, t.RowsErased, t.SourceRowsCurrent)
	}
	fmt.Fprintf(&b, "%d run(s), %d failed; SHA-256 recorded for %d of %d object(s)", t.Runs, t.FailedRuns, t.ChecksumsRecorded, t.SourceObjects+t.AnalyticsObjects)
	if in.Verified {
		fmt.Fprintf(&b, ", %d re-read and matching", in.ObjectsOK)
	}
	if in.OK {
		b.WriteString("; every count adds up.")
	} else {
		fmt.Fprintf(&b, "; %d problem(s) found.", len(in.Problems))
	}
	return b.String()
}

// short abbreviates a transform version for messages.
func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}
