package erasure

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// archive finds the subject in the dataset's objects of type typ that are
// still in storage (current, superseded or restored) and replaces those
// holding it. Analytics objects are first ruled out, where they can be,
// by the catalog's key range and by their footers (statistics and bloom
// filters of the subject columns); source objects hold the subject inside
// raw records, which no statistics describe, so each is read.
func (r *run) archive(ctx context.Context, typ string) error {
	objs, err := catalog.ListObjects(ctx, r.tx, catalog.Filter{Dataset: r.ds.Name, Type: typ,
		States: []string{catalog.StateCommitted, catalog.StateRestored}, WithSuperseded: true})
	if err != nil {
		return err
	}
	if objs, err = r.notScheduled(ctx, objs); err != nil {
		return err
	}
	place := &r.cert.SourceArchive
	if typ == catalog.TypeAnalytics {
		place = &r.cert.AnalyticsArchive
		if objs, err = r.probe(ctx, objs, place); err != nil {
			return err
		}
	} else {
		place.Objects = len(objs)
	}
	place.Replaced = []Replacement{}
	for _, o := range objs {
		if err := r.object(ctx, o, place); err != nil {
			return err
		}
	}
	return nil
}

// notScheduled drops the objects an earlier erasure already replaced and
// scheduled for deletion (after a crash between an erasure's commit and
// its deletions, a rerun finds them still in storage).
func (r *run) notScheduled(ctx context.Context, objs []catalog.Object) ([]catalog.Object, error) {
	rows, err := r.tx.Query(ctx, `SELECT object_id FROM strata.erasure_deletions d JOIN strata.erasures e ON e.id = d.erasure_id
		WHERE e.dataset = $1`, r.ds.Name)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	done := map[int64]bool{}
	for _, id := range ids {
		done[id] = true
	}
	var out []catalog.Object
	for _, o := range objs {
		if !done[o.ID] {
			out = append(out, o)
		}
	}
	return out, nil
}

// probe returns the analytics objects that may hold the subject.
func (r *run) probe(ctx context.Context, objs []catalog.Object, place *ArchivePlace) ([]catalog.Object, error) {
	place.Objects = len(objs)
	if len(r.l2) == 0 {
		place.SkippedByFooter = len(objs)
		return nil, nil
	}
	var out []catalog.Object
	for _, o := range objs {
		in, err := r.inKeyRange(ctx, o)
		if err != nil {
			return nil, err
		}
		if !in {
			place.SkippedByKeyRange++
			continue
		}
		may, err := r.mayHold(ctx, o)
		if err != nil {
			return nil, err
		}
		if !may {
			place.SkippedByFooter++
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// inKeyRange is false when o's catalog key range is of a subject column
// (of the type it has now) and leaves the subject out.
func (r *run) inKeyRange(ctx context.Context, o catalog.Object) (bool, error) {
	if o.KeyMin == "" || len(r.l2) != 1 {
		return true, nil // several columns: another may hold it
	}
	c := r.l2[0].col
	if o.KeyColumn != c.Name || columnType(o, c.Name) != c.TypeName {
		return true, nil
	}
	var in bool
	err := r.tx.QueryRow(ctx, `SELECT ($1::text)::`+c.TypeName+` BETWEEN ($2::text)::`+c.TypeName+` AND ($3::text)::`+c.TypeName,
		r.req.Subject, o.KeyMin, o.KeyMax).Scan(&in)
	return in, err
}

// mayHold reads o's footer and bloom filters (and, when they cannot tell,
// its subject columns) and reports whether one of the subject columns
// holds the subject.
func (r *run) mayHold(ctx context.Context, o catalog.Object) (bool, error) {
	for _, c := range r.l2 {
		ks, err := parquetio.NewKeySet([]parquetio.Column{c.col})
		if err != nil {
			return true, nil // a type the key search cannot compare: read the object
		}
		if err := ks.Add([][]byte{c.raw}); err != nil {
			return false, err
		}
		hold, _, err := r.e.Arch.HoldsKeys(ctx, o, ks)
		if err != nil || hold {
			return hold, err
		}
	}
	return false, nil
}

// columnType is the type of column name in o's catalog schema ("" if none).
func columnType(o catalog.Object, name string) string {
	return objectColumns(o)[name]
}

// objectColumns maps o's columns to their types.
func objectColumns(o catalog.Object) map[string]string {
	var cols []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	out := map[string]string{}
	if json.Unmarshal(o.Schema, &cols) == nil {
		for _, c := range cols {
			out[c.Name] = c.Type
		}
	}
	return out
}

// object reads o, drops the subject's rows and, when it held some,
// replaces it (a current object) and schedules its deletion.
func (r *run) object(ctx context.Context, o catalog.Object, place *ArchivePlace) error {
	if _, err := r.rw.Load(ctx, o); err != nil {
		return err
	}
	place.Read++
	pred, args := r.objectPred(o)
	tag, err := r.tx.Exec(ctx, `DELETE FROM `+archive.RewriteTable+` WHERE `+pred, args...)
	if err != nil {
		return fmt.Errorf("find the subject in %s: %w", o.Key, err)
	}
	removed := tag.RowsAffected()
	if removed == 0 {
		return nil
	}
	place.Held++
	end := o.Day.Add(24*time.Hour - time.Microsecond)
	if err := r.held(ctx, o.Type, &o.Day, &end); err != nil {
		return err
	}
	rep := Replacement{Day: o.Day.Format(time.DateOnly), OldID: o.ID, OldKey: o.Key, OldSHA256: o.SHA256, OldRows: o.Rows,
		Removed: removed, NewRows: o.Rows - removed, Current: o.State == catalog.StateCommitted && o.SupersededBy == nil}
	if rep.Current {
		place.Rows += removed
	} else {
		place.OlderRows += removed
		rep.NewRows = 0
	}
	if !r.req.DryRun {
		if err := r.replace(ctx, o, &rep); err != nil {
			return err
		}
	}
	place.Replaced = append(place.Replaced, rep)
	return nil
}

// objectPred is the condition on o's rows in RewriteTable, and its arguments.
func (r *run) objectPred(o catalog.Object) (string, []any) {
	if o.Type == catalog.TypeSource {
		src := r.ds.Source
		payload := src.PayloadColumn
		return sourcePred(r.ds.Subject, payload, columnType(o, payload)), sourceArgs(r.ds.Subject, r.req.Subject)
	}
	pred := objectPred(r.l2, objectColumns(o))
	if pred == "false" {
		return pred, nil
	}
	return pred, []any{r.req.Subject}
}

// replace writes a current object's successor and schedules the old
// object's deletion at the end of its retention.
func (r *run) replace(ctx context.Context, o catalog.Object, rep *Replacement) error {
	if rep.Current {
		n, err := r.rw.Commit(ctx, o)
		if err != nil {
			return err
		}
		rep.NewID, rep.NewKey, rep.NewSHA256, rep.NewRows = n.ID, n.Key, n.SHA256, n.Rows
		r.superseded = append(r.superseded, o.ID)
		if o.Type == catalog.TypeSource {
			r.newSource = append(r.newSource, n.ID)
			if _, err := r.tx.Exec(ctx, `UPDATE strata.source_archived SET object_id = $3 WHERE dataset = $1 AND object_id = $2`,
				r.ds.Name, o.ID, n.ID); err != nil {
				return fmt.Errorf("move the archived marks of %s: %w", o.Key, err)
			}
		} else {
			r.newAnaly = append(r.newAnaly, n.ID)
		}
	}
	until, err := r.retainedUntil(ctx, o)
	if err != nil {
		return err
	}
	r.deletions = append(r.deletions, catalog.ErasureDeletion{Dataset: r.ds.Name, ObjectID: o.ID, Key: o.Key, NotBefore: until})
	return nil
}

// retainedUntil is when the storage lets o be deleted: the end of its
// write-once retention (as the catalog recorded it, else as the storage
// states it), or now (the database clock) when it has none.
func (r *run) retainedUntil(ctx context.Context, o catalog.Object) (time.Time, error) {
	var now time.Time
	if err := r.tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return now, err
	}
	if o.RetainUntil != nil {
		return latest(now, *o.RetainUntil), nil
	}
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return now, err
	}
	info, err := r.e.Arch.Store.Stat(ctx, key)
	if err != nil {
		return now, fmt.Errorf("stat %s: %w", o.Key, err)
	}
	if ret := info.Retention; ret.Mode != storage.RetentionOff && ret.Until.After(now) {
		return ret.Until, nil
	}
	return now, nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
