package erasure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/storage"
)

// ErrNotFound: no erasure has the id asked for.
var ErrNotFound = errors.New("no such erasure")

// record writes, in the erasure's transaction, the ledger row with its
// certificate, the deletions to do and the lineage record.
func (r *run) record(ctx context.Context) error {
	c := r.cert
	c.Status = catalog.ErasureDone
	c.RunID = r.rw.RunID()
	e := catalog.Erasure{Dataset: c.Dataset, SubjectHMAC: c.SubjectHMAC, KeyID: c.KeyID, Status: catalog.ErasureDone,
		Reason: c.Reason, Actor: c.Actor, Via: c.Via, Certificate: json.RawMessage(`{}`)}
	if c.RunID != 0 {
		e.RunID = &c.RunID
	}
	if err := catalog.RecordErasure(ctx, r.tx, &e); err != nil {
		return err
	}
	c.ID, c.At = e.ID, e.At
	for i := range r.deletions {
		r.deletions[i].ErasureID = e.ID
		if err := catalog.ScheduleDeletion(ctx, r.tx, r.deletions[i]); err != nil {
			return err
		}
	}
	c.Deletions = append([]catalog.ErasureDeletion{}, r.deletions...)
	l := &catalog.Lineage{Dataset: c.Dataset, Kind: catalog.LineageErasure, RunID: e.RunID,
		SourceObjects: r.newSource, AnalyticsObjects: r.newAnaly, Superseded: r.superseded,
		Detail: map[string]any{"erasure_id": e.ID, "reason": c.Reason, "records_erased": c.Records(), "rows_erased": c.Rows(),
			"layer3_rows": c.Layer3.Rows, "layer2_rows": c.Layer2.Rows,
			"source_archive_rows": c.SourceArchive.Rows, "analytics_archive_rows": c.AnalyticsArchive.Rows}}
	if err := catalog.RecordLineage(ctx, r.tx, l); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return catalog.SetErasureCertificate(ctx, r.tx, e.ID, b)
}

// refuse records a refusal (unless a dry run) and returns it as a
// *RefusedError.
func (e *Eraser) refuse(ctx context.Context, cert Certificate, dryRun bool) (Certificate, error) {
	cert.Status = catalog.ErasureRefused
	cert.Layer3, cert.Layer2 = DBPlace{}, DBPlace{}
	cert.SourceArchive, cert.AnalyticsArchive = ArchivePlace{}, ArchivePlace{}
	cert.Deletions = []catalog.ErasureDeletion{}
	if !dryRun {
		b, err := json.Marshal(cert)
		if err != nil {
			return cert, err
		}
		row := catalog.Erasure{Dataset: cert.Dataset, SubjectHMAC: cert.SubjectHMAC, KeyID: cert.KeyID, Status: catalog.ErasureRefused,
			Reason: cert.Reason, Refusal: cert.Refusal, Actor: cert.Actor, Via: cert.Via, Certificate: b}
		if err := catalog.RecordErasure(ctx, e.Pool, &row); err != nil {
			return cert, err
		}
		cert.ID, cert.At = row.ID, row.At
		if b, err = json.Marshal(cert); err == nil {
			err = catalog.SetErasureCertificate(ctx, e.Pool, row.ID, b)
		}
		if err != nil {
			return cert, err
		}
	}
	return cert, &RefusedError{Certificate: cert}
}

// Show returns the certificate of erasure id, its deletions as they stand
// now (done, or pending until when).
func (e *Eraser) Show(ctx context.Context, id int64) (Certificate, error) {
	row, ok, err := catalog.GetErasure(ctx, e.Pool, id)
	if err != nil {
		return Certificate{}, err
	}
	if !ok {
		return Certificate{}, fmt.Errorf("%w: erasure %d (strata erase list shows the erasures there are)", ErrNotFound, id)
	}
	var c Certificate
	if err := json.Unmarshal(row.Certificate, &c); err != nil {
		return c, fmt.Errorf("erasure %d: certificate: %w", id, err)
	}
	dels, err := catalog.ErasureDeletions(ctx, e.Pool, catalog.DeletionFilter{ErasureID: id})
	if err != nil {
		return c, err
	}
	c.Deletions = append([]catalog.ErasureDeletion{}, dels...)
	return c, nil
}

// Summary is one erasure in a list.
type Summary struct {
	ID          int64     `json:"id"`
	Dataset     string    `json:"dataset"`
	At          time.Time `json:"at"`
	Status      string    `json:"status"`
	SubjectHMAC string    `json:"subject_hmac"`
	Reason      string    `json:"reason"`
	Refusal     string    `json:"refusal,omitempty"`
	Actor       string    `json:"actor,omitempty"`
}

// Listing is what strata erase list shows: the erasures and refusals,
// and the deletions from storage still pending.
type Listing struct {
	Erasures []Summary                 `json:"erasures"`
	Pending  []catalog.ErasureDeletion `json:"pending"`
}

// List returns the erasures of dataset ("" for all) and the deletions
// still pending.
func (e *Eraser) List(ctx context.Context, dataset string) (Listing, error) {
	rows, err := catalog.ListErasures(ctx, e.Pool, dataset)
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Erasures: []Summary{}}
	for _, r := range rows {
		l.Erasures = append(l.Erasures, Summary{ID: r.ID, Dataset: r.Dataset, At: r.At, Status: r.Status,
			SubjectHMAC: r.SubjectHMAC, Reason: r.Reason, Refusal: r.Refusal, Actor: r.Actor})
	}
	l.Pending, err = catalog.ErasureDeletions(ctx, e.Pool, catalog.DeletionFilter{Dataset: dataset, Pending: true})
	if l.Pending == nil {
		l.Pending = []catalog.ErasureDeletion{}
	}
	return l, err
}

// DeleteDue deletes from storage the old objects of erasures of dataset
// ("" for all) whose retention has ended, and returns how many it deleted.
// An object the storage still refuses to delete (its retention is longer
// than it said) is tried again when its retention ends, or a day later.
func (e *Eraser) DeleteDue(ctx context.Context, dataset string) (int, error) {
	due, err := catalog.ErasureDeletions(ctx, e.Pool, catalog.DeletionFilter{Dataset: dataset, Pending: true, Due: true})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range due {
		done, err := e.deleteOne(ctx, d)
		if err != nil {
			return n, fmt.Errorf("delete %s: %w", d.Key, err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

// deleteOne deletes one object: the catalog first marks it expired (it
// is superseded, nothing reads it), then the storage deletes it, then
// the deletion is recorded; a crash between them repeats the delete.
func (e *Eraser) deleteOne(ctx context.Context, d catalog.ErasureDeletion) (bool, error) {
	key, err := storage.ParseKey(d.Key)
	if err != nil {
		return false, err
	}
	if e.Holds != nil {
		end := d.Day.Add(24*time.Hour - time.Microsecond)
		refusal, err := e.Holds(ctx, d.Dataset, d.Type, d.Day, end)
		if err != nil {
			return false, err
		}
		if refusal != nil {
			e.logger().Info("deletion of an erased object waits: a legal hold covers it", "key", d.Key, "hold", refusal)
			retry := time.Now().Add(24 * time.Hour)
			return false, catalog.FinishDeletion(ctx, e.Pool, d, &retry)
		}
	}
	info, err := e.Arch.Store.Stat(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return true, catalog.FinishDeletion(ctx, e.Pool, d, nil)
	case err != nil:
		return false, err
	case info.Retention.Active(time.Now()):
		retry := info.Retention.Until
		if info.Retention.LegalHold || !retry.After(time.Now()) {
			retry = time.Now().Add(24 * time.Hour)
		}
		return false, catalog.FinishDeletion(ctx, e.Pool, d, &retry)
	}
	if err := catalog.SetObjectState(ctx, e.Pool, d.ObjectID, d.State, catalog.StateExpired); err != nil {
		return false, err
	}
	if err := e.Arch.Store.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotExist) {
		if !errors.Is(err, storage.ErrImmutable) {
			return false, err
		}
		retry := time.Now().Add(24 * time.Hour)
		if rerr := catalog.SetObjectState(ctx, e.Pool, d.ObjectID, catalog.StateExpired, d.State); rerr != nil {
			return false, rerr
		}
		return false, catalog.FinishDeletion(ctx, e.Pool, d, &retry)
	}
	return true, catalog.FinishDeletion(ctx, e.Pool, d, nil)
}
