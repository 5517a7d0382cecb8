package archive_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/retrieve"
	"github.com/stratahq/strata/internal/storage"
)

// restoreFixture archives days 100, 101 and 102 (10 rows each) and keeps
// every row in events_all; it returns the archived days, oldest first.
func restoreFixture(t *testing.T) (*fixture, []time.Time) {
	t.Helper()
	f := newFixture(t, []int{100, 101, 102, 5}, 10)
	exec(t, f.pool, `CREATE TABLE events_all AS TABLE events`)
	rep := f.run(t, archive.Options{})
	if len(rep.Days) != 3 {
		t.Fatalf("archived %d days, want 3", len(rep.Days))
	}
	days := []time.Time{rep.Days[0].Day, rep.Days[1].Day, rep.Days[2].Day}
	return f, days
}

// liveIDs retrieves every id of the range, archived and live, in one
// snapshot, failing on a duplicate.
func liveIDs(t *testing.T, f *fixture, from, to time.Time) map[int64]bool {
	t.Helper()
	r := &retrieve.Retriever{Catalog: f.cat, Store: f.arch.Store, Pool: f.pool, SpoolDir: t.TempDir()}
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "events", Type: "analytics", From: from, To: to,
		Columns: []string{"id"}, TimeColumn: "at", Table: "events", Live: &retrieve.Live{}})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		id := rows.Values()[0].Int64()
		if ids[id] {
			t.Fatalf("id %d retrieved twice", id)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestRestoreIntoLayer2ThenArchiveAgainKeepsEveryRowOnce(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	all := count(t, f.pool, `SELECT count(*) FROM events_all`)
	from, to := days[0].Add(-time.Hour), days[2].Add(48*time.Hour)

	// Days 101 and 102 ago, asked for with times inside the days.
	rep, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0].Add(3 * time.Hour), To: days[1].Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Layer2 || rep.Table != "public.events" || rep.Rows != 20 || len(rep.Days) != 2 || len(rep.Objects) != 2 ||
		rep.Days[0].Rows != 10 || !rep.Days[0].Day.Equal(days[0]) {
		t.Fatalf("report %+v; want 20 rows from 2 objects of 2 days into public.events", rep)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events e JOIN events_all a USING (id)
		WHERE (e.note, e.amount, e.at) IS NOT DISTINCT FROM (a.note, a.amount, a.at) AND e.at < $1`, days[2]); n != 20 {
		t.Fatalf("%d restored rows equal the originals, want 20", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE id = ANY($1) AND state = 'restored'`, rep.Objects); n != 2 {
		t.Fatalf("%d objects marked restored, want 2", n)
	}
	l, err := catalog.ListLineage(ctx, f.pool, catalog.LineageFilter{Dataset: "events"})
	if err != nil {
		t.Fatal(err)
	}
	last := l[len(l)-1]
	if last.Kind != catalog.LineageRestore || last.AnalyticsRows != 20 || len(last.AnalyticsObjects) != 2 || last.ID != rep.LineageID ||
		last.From == nil || !last.From.Equal(days[0]) {
		t.Fatalf("last lineage record %+v; want a restore of 2 objects, 20 rows, from %s", last, days[0])
	}
	if ids := liveIDs(t, f, from, to); int64(len(ids)) != all-10 { // minus the 10 live rows of 5 days ago, out of range
		t.Fatalf("retrieval with live rows returns %d ids, want %d", len(ids), all-10)
	}
	if again, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[1]}); err != nil || again.Rows != 0 {
		t.Fatalf("restoring the same days again: %+v, %v; want nothing (their objects are restored already)", again, err)
	}

	second := f.run(t, archive.Options{})
	if second.Rows() != 20 || len(second.Days) != 2 {
		t.Fatalf("archive after restore moved %d rows in %d days, want 20 in 2", second.Rows(), len(second.Days))
	}
	for _, d := range second.Days {
		for _, id := range rep.Objects {
			if strings.HasSuffix(d.Key, "/chunk_"+itoa(id)+".parquet") {
				t.Fatalf("re-archived into the restored object's key %s", d.Key)
			}
		}
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events WHERE at < $1`, days[2].AddDate(0, 0, 1)); n != 0 {
		t.Fatalf("%d restored rows still in Layer 2 after archiving again", n)
	}
	if ids := liveIDs(t, f, from, to); int64(len(ids)) != all-10 {
		t.Fatalf("retrieval after re-archiving returns %d ids, want %d", len(ids), all-10)
	}
	verifyClean(t, f)
}

func TestRestoreRefusesAKeyAlreadyInLayer2AndChangesNothing(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	exec(t, f.pool, `INSERT INTO events VALUES (10100003, 'newer', 9, now())`) // a key archived 101 days ago
	_, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[2]})
	if !errors.Is(err, archive.ErrRestoreConflict) || !strings.Contains(err.Error(), "id=10100003") {
		t.Fatalf("err %v; want ErrRestoreConflict naming id=10100003", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events`); n != 11 {
		t.Fatalf("%d rows in Layer 2, want 11 (10 live + the newer row)", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE state <> 'committed'`); n != 0 {
		t.Fatalf("%d objects changed state", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.lineage WHERE kind = 'restore'`); n != 0 {
		t.Fatalf("%d restore lineage records", n)
	}
}

func TestRestoreIntoAnotherTableLeavesTheCatalogAlone(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	catalogState := func() int64 {
		return count(t, f.pool, `SELECT (SELECT count(*) FROM strata.objects WHERE state = 'committed') * 1000000
			+ (SELECT count(*) FROM strata.lineage) * 1000 + (SELECT count(*) FROM strata.runs)`)
	}
	before := catalogState()
	rep, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[2], Into: pgx.Identifier{"events_copy"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Layer2 || !rep.Created || rep.Table != "public.events_copy" || rep.Rows != 30 {
		t.Fatalf("report %+v; want 30 rows into a new public.events_copy", rep)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events_copy c JOIN events_all a USING (id)
		WHERE (c.note, c.amount, c.at) IS NOT DISTINCT FROM (a.note, a.amount, a.at)`); n != 30 {
		t.Fatalf("%d copied rows equal the originals, want 30", n)
	}
	if after := catalogState(); after != before {
		t.Fatalf("catalog changed: %d -> %d", before, after)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events`); n != 10 {
		t.Fatalf("Layer 2 changed: %d rows", n)
	}

	exec(t, f.pool, `CREATE SCHEMA inv; CREATE TABLE inv.empty (id bigint, note text, amount numeric, at timestamptz, extra int)`)
	if rep, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[1], To: days[1], Into: pgx.Identifier{"inv", "empty"}}); err != nil ||
		rep.Created || rep.Rows != 10 {
		t.Fatalf("restore into an existing empty table: %+v, %v", rep, err)
	}
	refused := []struct {
		name string
		into pgx.Identifier
		want string
	}{
		{"a table that is not empty", pgx.Identifier{"events_copy"}, "not empty"},
		{"the Layer 2 table", pgx.Identifier{"events"}, "Layer 2"},
		{"the catalog", pgx.Identifier{"strata", "objects"}, "belongs to PostgreSQL or Strata"},
		{"a system schema", pgx.Identifier{"pg_catalog", "x"}, "belongs to PostgreSQL or Strata"},
		{"a missing schema", pgx.Identifier{"nope", "x"}, "nope"},
		{"a table lacking an archived column", pgx.Identifier{"inv", "narrow"}, `column "amount"`},
	}
	exec(t, f.pool, `CREATE TABLE inv.narrow (id bigint, note text, at timestamptz)`)
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[2], Into: c.into})
			if !errors.Is(err, archive.ErrRestoreTarget) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v; want ErrRestoreTarget mentioning %q", err, c.want)
			}
		})
	}
	if after := catalogState(); after != before {
		t.Fatalf("catalog changed: %d -> %d", before, after)
	}
}

func TestRestoredObjectsStillExpire(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	rep, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[0]})
	if err != nil || len(rep.Objects) != 1 {
		t.Fatalf("restore: %+v, %v", rep, err)
	}
	exec(t, f.pool, `UPDATE strata.objects SET expires_at = now() - interval '1 day' WHERE id = $1`, rep.Objects[0])
	var key string
	if err := f.pool.QueryRow(ctx, `SELECT key FROM strata.objects WHERE id = $1`, rep.Objects[0]).Scan(&key); err != nil {
		t.Fatal(err)
	}
	exp, err := f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 1 || exp.Expired[0] != key {
		t.Fatalf("expire: %+v, %v; want the restored object %s", exp, err, key)
	}
	if _, err := f.arch.Store.Stat(ctx, storage.MustKey(strings.Split(key, "/")...)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("expired restored object still in storage: %v", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE id = $1 AND state = 'expired'`, rep.Objects[0]); n != 1 {
		t.Fatal("the restored object is not marked expired")
	}
}

func TestRestoreRefusesAKeyArchivedTwiceInTheRange(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	// Key 10200001 (archived 102 days ago) comes back with a time 101 days
	// ago and is archived again: two archived versions of one key.
	exec(t, f.pool, `INSERT INTO events VALUES (10200001, 'again', 1, $1::timestamptz + interval '23 hours')`, days[1])
	if rep := f.run(t, archive.Options{}); rep.Rows() != 1 {
		t.Fatalf("archived %d rows, want the 1 late row", rep.Rows())
	}
	_, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[1]})
	if !errors.Is(err, archive.ErrRestoreConflict) || !strings.Contains(err.Error(), "id=10200001") || !strings.Contains(err.Error(), "more than once") {
		t.Fatalf("err %v; want ErrRestoreConflict naming id=10200001 archived more than once", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE state <> 'committed'`); n != 0 {
		t.Fatalf("%d objects changed state", n)
	}
	// Into another table every archived version is kept.
	if rep, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[1], Into: pgx.Identifier{"versions"}}); err != nil || rep.Rows != 21 {
		t.Fatalf("restore --into: %+v, %v; want 21 rows", rep, err)
	}
}
