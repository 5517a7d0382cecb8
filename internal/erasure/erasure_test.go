package erasure_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/erasure"
	"github.com/stratahq/strata/internal/testenv"
)

const subject = "7" // customer 7: orders 7, 57, ..., 557

func TestEraseRemovesTheSubjectFromEveryPlaceAndNothingElse(t *testing.T) {
	for _, kind := range testenv.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, "")
			ctx := context.Background()
			l2 := w.env.Count(`SELECT count(*) FROM orders WHERE customer_id = 7`)
			l3 := w.env.Count(`SELECT count(*) FROM source_orders WHERE raw_data->>'customer_id' = $1`, subject)
			if l3 != 12 || l2 == 0 || l2 == 12 {
				t.Fatalf("the world has %d Layer 3 and %d Layer 2 rows of the subject: want 12 and some (not all) in Layer 2", l3, l2)
			}
			others := w.snap(not(subject))
			if n := len(w.snap(only(subject)).analytics); int64(n) != 12-l2 {
				t.Fatalf("the analytics archive holds %d rows of the subject, want %d", n, 12-l2)
			}

			before := w.catalogText()
			dry, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "test", DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if dry.Status != "dry-run" || dry.Layer2.Rows != l2 || dry.Layer3.Rows != 12 || dry.Records() != 12 || dry.Rows() != 12 {
				t.Fatalf("dry run: status %s, layer2 %d layer3 %d records %d rows %d; want dry-run, %d, 12, 12, 12",
					dry.Status, dry.Layer2.Rows, dry.Layer3.Rows, dry.Records(), dry.Rows(), l2)
			}
			if len(dry.SourceArchive.Replaced) == 0 || len(dry.AnalyticsArchive.Replaced) == 0 {
				t.Fatalf("dry run replaces %d source and %d analytics objects, want some of each",
					len(dry.SourceArchive.Replaced), len(dry.AnalyticsArchive.Replaced))
			}
			if after := w.catalogText(); after != before {
				t.Fatal("the dry run changed the catalog")
			}
			w.snap(not(subject)).check(t, others)
			if n := len(w.snap(only(subject)).layer3); n != 12 {
				t.Fatalf("after the dry run Layer 3 holds %d records of the subject, want 12", n)
			}

			cert, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #1"})
			if err != nil {
				t.Fatal(err)
			}
			checkCertificate(t, w, cert, dry)
			if n := w.env.Count(`SELECT count(*) FROM orders WHERE customer_id = 7`) +
				w.env.Count(`SELECT count(*) FROM source_orders WHERE raw_data->>'customer_id' = $1`, subject); n != 0 {
				t.Errorf("%d rows of the subject are left in the database", n)
			}
			w.snap(all).check(t, others)

			again, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "again"})
			if err != nil {
				t.Fatal(err)
			}
			if again.Records() != 0 || again.Rows() != 0 || len(again.Deletions) != 0 {
				t.Errorf("a second erasure found %d records, %d rows, %d objects to delete; want none", again.Records(), again.Rows(), len(again.Deletions))
			}
			w.snap(all).check(t, others)
		})
	}
}

// checkCertificate checks an erasure's certificate against the dry run's,
// the catalog and the storage.
func checkCertificate(t *testing.T, w *world, cert, dry strata.EraseCertificate) {
	t.Helper()
	if cert.ID == 0 || cert.Status != "done" || cert.Records() != dry.Records() || cert.Rows() != dry.Rows() {
		t.Fatalf("certificate: id %d status %s records %d rows %d; want an id, done, %d, %d", cert.ID, cert.Status,
			cert.Records(), cert.Rows(), dry.Records(), dry.Rows())
	}
	if cert.SubjectHMAC != w.key().Hash(subject) || cert.SubjectHMAC == dry.SubjectHMAC && dry.SubjectHMAC == "" {
		t.Errorf("certificate subject_hmac %s, want the key's HMAC of the subject", cert.SubjectHMAC)
	}
	replaced := append(append([]erasure.Replacement{}, cert.SourceArchive.Replaced...), cert.AnalyticsArchive.Replaced...)
	if len(replaced) != len(dry.SourceArchive.Replaced)+len(dry.AnalyticsArchive.Replaced) {
		t.Errorf("%d objects replaced, the dry run said %d", len(replaced), len(dry.SourceArchive.Replaced)+len(dry.AnalyticsArchive.Replaced))
	}
	for _, r := range replaced {
		var sha string
		var rows int64
		var by *int64
		if err := w.env.Pool.QueryRow(context.Background(), `SELECT n.sha256, n.rows, o.superseded_by FROM strata.objects n, strata.objects o
			WHERE n.id = $1 AND o.id = $2`, r.NewID, r.OldID).Scan(&sha, &rows, &by); err != nil {
			t.Fatalf("object %d replacing %d: %v", r.NewID, r.OldID, err)
		}
		if sha != r.NewSHA256 || sha == r.OldSHA256 || rows != r.OldRows-r.Removed || by == nil || *by != r.NewID {
			t.Errorf("object %d: sha %s rows %d superseded_by %v; certificate: new sha %s, %d-%d rows, replaced by %d",
				r.OldID, sha, rows, by, r.NewSHA256, r.OldRows, r.Removed, r.NewID)
		}
		if w.keyExists(r.OldKey) {
			t.Errorf("old object %s is still in storage (no retention: it should be deleted at once)", r.OldKey)
		}
	}
	if len(cert.Deletions) != len(replaced) {
		t.Errorf("%d deletions for %d objects replaced", len(cert.Deletions), len(replaced))
	}
	for _, d := range cert.Deletions {
		if d.DeletedAt == nil {
			t.Errorf("deletion of %s is pending until %s; storage without retention deletes at once", d.Key, d.NotBefore)
		}
	}
	shown, err := w.svc.EraseShow(context.Background(), cert.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(shown)
	b, _ := json.Marshal(cert)
	if string(a) != string(b) {
		t.Errorf("erase show differs from the certificate:\n%s\n%s", a, b)
	}
	var text string
	if err := w.env.Pool.QueryRow(context.Background(), `SELECT row_to_json(e)::text FROM strata.erasures e WHERE id = $1`, cert.ID).Scan(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, cert.SubjectHMAC) || strings.Contains(text, `"subject":`) {
		t.Errorf("the ledger row does not hold the subject as its hash only: %s", text)
	}
}

func TestEraseIsRefusedUnderARetentionBasisAndTheRefusalRecorded(t *testing.T) {
	w := newWorld(t, testenv.Local, `retention_basis: "HGB §257: commercial records, 10 years"`)
	before := w.snap(all)
	_, err := w.svc.Erase(context.Background(), strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #2"})
	var refused *strata.ErasureRefused
	if !errors.As(err, &refused) || !errors.Is(err, strata.ErrInvalid) || !strings.Contains(err.Error(), "HGB §257") {
		t.Fatalf("erase under a retention basis: %v, want a refusal naming the statute, matching ErrInvalid", err)
	}
	if n := w.env.Count(`SELECT count(*) FROM strata.erasures WHERE status = 'refused' AND refusal LIKE '%HGB%' AND id = $1`, refused.Certificate.ID); n != 1 {
		t.Errorf("the refusal is recorded %d times, want once", n)
	}
	w.snap(all).check(t, before)
}

func TestErasureOfASubjectInNoPlaceFindsNothingAndChangesNoObject(t *testing.T) {
	w := newWorld(t, testenv.Local, "")
	objects := w.env.Count(`SELECT count(*) FROM strata.objects`)
	cert, err := w.svc.Erase(context.Background(), strata.EraseRequest{Dataset: "orders", Subject: "4242", Reason: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Records() != 0 || cert.Rows() != 0 || len(cert.Deletions) != 0 || w.env.Count(`SELECT count(*) FROM strata.objects`) != objects {
		t.Errorf("an absent subject: %d records, %d rows, %d deletions; want nothing", cert.Records(), cert.Rows(), len(cert.Deletions))
	}
	if cert.AnalyticsArchive.SkippedByKeyRange+cert.AnalyticsArchive.SkippedByFooter != cert.AnalyticsArchive.Objects {
		t.Errorf("analytics objects: %d, skipped %d by key range and %d by footer; want all skipped without reading",
			cert.AnalyticsArchive.Objects, cert.AnalyticsArchive.SkippedByKeyRange, cert.AnalyticsArchive.SkippedByFooter)
	}
}

func TestEraseIsRefusedUnderALegalHoldNamingItAndGoesAheadOnceReleased(t *testing.T) {
	w := newWorld(t, testenv.Local, "")
	ctx := context.Background()
	h, err := w.svc.AddHold(ctx, strata.HoldRequest{Dataset: "orders", Type: "analytics",
		From: w.now.AddDate(0, 0, -5), To: w.now.AddDate(0, 0, -3), Reason: "case 42"})
	if err != nil {
		t.Fatal(err)
	}
	before, catalogBefore := w.snap(all), w.catalogText()
	_, err = w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #3"})
	var refused *strata.ErasureRefused
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "case 42") {
		t.Fatalf("erase under a hold: %v, want a refusal naming the hold", err)
	}
	if n := w.env.Count(`SELECT count(*) FROM strata.erasures WHERE status = 'refused' AND refusal LIKE '%case 42%'`); n != 1 {
		t.Errorf("the refusal is recorded %d times, want once", n)
	}
	w.snap(all).check(t, before)
	if w.catalogText() == catalogBefore {
		t.Error("the refusal is not in the catalog")
	}
	if _, err := w.svc.ReleaseHold(ctx, h.ID, "case closed"); err != nil {
		t.Fatal(err)
	}
	cert, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #3"})
	if err != nil || cert.Records() != 12 {
		t.Fatalf("erase after the release: %v, %d records; want 12", err, cert.Records())
	}
}

func TestTheLedgerKeepsReplayAndRestoreFromBringingTheSubjectBackButNotNewRecords(t *testing.T) {
	w := newWorld(t, testenv.Local, "")
	ctx := context.Background()
	if _, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #4"}); err != nil {
		t.Fatal(err)
	}
	// A copy of an erased record comes back into Layer 3 from outside
	// Strata (a reload), with its original ingestion time.
	w.env.Exec(`INSERT INTO source_orders (raw_data, ingested_at) VALUES ($1::json, now() - interval '1 hour')`,
		strings.TrimSpace(records(7, 1, w.now)))
	inL2 := `SELECT count(*) FROM orders WHERE customer_id = 7`
	rep, err := w.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: w.now.AddDate(0, 0, -1), To: w.now.Add(time.Hour), Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SourceRecords.Erased != 1 || w.env.Count(inL2) != 0 {
		t.Errorf("replay --apply after the erasure: %d records kept out by the ledger, %d rows of the subject in Layer 2; want 1 and 0",
			rep.SourceRecords.Erased, w.env.Count(inL2))
	}
	// A new order of the same customer, after the erasure, is stored.
	if _, err := w.svc.Ingest(ctx, "orders", strings.NewReader(records(9007, 1, w.now))); err != nil {
		t.Fatal(err)
	}
	if n := w.env.Count(inL2); n != 1 {
		t.Fatalf("a record of the subject ingested after the erasure: %d rows in Layer 2, want 1", n)
	}
	rep, err = w.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: w.now.AddDate(0, 0, -1), To: w.now.Add(time.Hour), Apply: true})
	if err != nil || rep.SourceRecords.Erased != 1 || w.env.Count(inL2) != 1 {
		t.Errorf("replay after a new record: %v, %d kept out, %d rows in Layer 2; want 1 and 1 (the new order)", err, rep.SourceRecords.Erased, w.env.Count(inL2))
	}
	if _, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: w.now.AddDate(0, 0, -6), To: w.now.AddDate(0, 0, -2)}); err != nil {
		t.Fatal(err)
	}
	if n := w.env.Count(inL2); n != 1 {
		t.Errorf("after restoring the archived days: %d rows of the subject in Layer 2, want 1 (the new order)", n)
	}
}

func TestLineageOfAPeriodWithAnErasureSaysWhatWasErasedAndStillAddsUp(t *testing.T) {
	w := newWorld(t, testenv.Local, "")
	ctx := context.Background()
	cert, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #5"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := w.svc.Lineage(ctx, strata.LineageRequest{Dataset: "orders", From: w.now.AddDate(0, 0, -7), To: w.now.Add(time.Hour), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	tot := rep.Totals
	if tot.Erasures != 1 || tot.RecordsErased != cert.Records() || tot.RowsErased != cert.Rows() {
		t.Errorf("lineage totals: %d erasures, %d records, %d rows erased; want 1, %d, %d", tot.Erasures, tot.RecordsErased, tot.RowsErased, cert.Records(), cert.Rows())
	}
	if tot.RecordsIn != tot.SourceRowsCurrent+tot.RecordsErased || tot.RecordsIn-tot.RowsErased != tot.AnalyticsRows+tot.Layer2LiveRows {
		t.Errorf("the counts do not add up: %d records in = %d in current source objects + %d erased? %d rows = %d archived + %d live + %d erased?",
			tot.RecordsIn, tot.SourceRowsCurrent, tot.RecordsErased, tot.RecordsIn, tot.AnalyticsRows, tot.Layer2LiveRows, tot.RowsErased)
	}
	if !rep.Integrity.OK || !strings.Contains(rep.Integrity.Statement, "1 erasure(s) removed 12 raw record(s)") ||
		!strings.Contains(strings.Join(rep.Integrity.Notes, "\n"), "GDPR request #5") {
		t.Errorf("lineage after an erasure: ok %v, %s\nproblems %v\nnotes %v", rep.Integrity.OK, rep.Integrity.Statement, rep.Integrity.Problems, rep.Integrity.Notes)
	}
}

func TestOnWriteOnceStorageTheOldObjectsWaitForTheirRetentionListedAsPending(t *testing.T) {
	kinds := []string{testenv.Local}
	if testenv.S3Running(t) {
		kinds = append(kinds, testenv.S3Locked)
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, "archive:\n  immutability: governance")
			ctx := context.Background()
			others := w.snap(not(subject))
			cert, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: subject, Reason: "GDPR request #6"})
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.Deletions) == 0 {
				t.Fatal("no objects replaced")
			}
			for _, d := range cert.Deletions {
				var until time.Time
				if err := w.env.Pool.QueryRow(ctx, `SELECT retain_until FROM strata.objects WHERE id = $1`, d.ObjectID).Scan(&until); err != nil {
					t.Fatalf("object %d: %v", d.ObjectID, err)
				}
				if d.DeletedAt != nil || !d.NotBefore.Equal(until) || !w.keyExists(d.Key) {
					t.Errorf("old object %s: deleted %v, pending until %s (retain-until %s), in storage %v; want pending until its retention ends, still stored",
						d.Key, d.DeletedAt, d.NotBefore, until, w.keyExists(d.Key))
				}
			}
			if _, err := w.svc.Purge(ctx, "orders", false); err != nil {
				t.Fatal(err)
			}
			l, err := w.svc.EraseList(ctx, "orders")
			if err != nil || len(l.Pending) != len(cert.Deletions) {
				t.Errorf("erase list after a purge: %v, %d pending; want the %d old objects", err, len(l.Pending), len(cert.Deletions))
			}
			w.snap(not(subject)).check(t, others)
			if s := w.snap(only(subject)); len(s.analytics)+len(s.source)+len(s.layer2)+len(s.layer3) != 0 {
				t.Errorf("the subject is still read: %d analytics, %d source, %d Layer 2, %d Layer 3 rows", len(s.analytics), len(s.source), len(s.layer2), len(s.layer3))
			}
		})
	}
}
