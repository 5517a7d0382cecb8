package archive_test

import (
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/retrieve"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/local"
)

// correctionFixture archives days 100 and 101 (20 rows each) plus a late
// chunk of 3 rows for day 100, keeping every row in events_all; dir is the
// archive folder.
func correctionFixture(t *testing.T) (*fixture, string, time.Time) {
	t.Helper()
	f := newFixture(t, []int{100, 101}, 20)
	dir := t.TempDir()
	store, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.arch.Store = store
	rep := f.run(t, archive.Options{})
	day := rep.Days[len(rep.Days)-1].Day // 100 days ago
	exec(t, f.pool, `INSERT INTO events SELECT 5000 + i, 'late ' || i, i, $1::timestamptz + make_interval(hours => 20, mins => i)
		FROM generate_series(1, 3) i`, day)
	f.run(t, archive.Options{})
	return f, dir, day
}

// corrections creates the temporary table corr on tx's connection: the
// archived rows 10000001..10000005 of day 100, with the notes of the first three
// changed (the other two equal to the archive).
func corrections(t *testing.T, tx pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`CREATE TEMP TABLE corr ON COMMIT DROP AS SELECT * FROM events WITH NO DATA`,
		`INSERT INTO corr SELECT 10000000 + i, CASE WHEN i <= 3 THEN 'fixed ' || i ELSE 'note ' || i END, i * 1.5,
			date_trunc('day', now(), 'UTC') - interval '100 days' + make_interval(mins => i) FROM generate_series(1, 5) i`,
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// supersede runs Supersede in a transaction with the corrections and
// commits it.
func supersede(t *testing.T, f *fixture, day time.Time) archive.SupersedeReport {
	t.Helper()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	corrections(t, tx)
	rep, err := f.arch.Supersede(ctx, tx, f.spec, "corr", []time.Time{day, day.AddDate(0, 0, -1)})
	if err != nil {
		t.Fatalf("supersede: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return rep
}

// notes retrieves id -> note for the day.
func notes(t *testing.T, f *fixture, day time.Time) map[int64]string {
	t.Helper()
	r := &retrieve.Retriever{Catalog: f.cat, Store: f.arch.Store, SpoolDir: t.TempDir()}
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "events", Type: "analytics",
		From: day, To: day.Add(24*time.Hour - time.Microsecond), Columns: []string{"id", "note"}, TimeColumn: "at"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		v := rows.Values()
		id := v[0].Int64()
		if _, dup := out[id]; dup {
			t.Fatalf("id %d retrieved twice", id)
		}
		out[id] = string(v[1].AppendText(nil))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func verifyClean(t *testing.T, f *fixture) {
	t.Helper()
	rep, err := f.arch.Verify(context.Background(), archive.VerifyOptions{Deep: true})
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify --deep: err %v, problems %+v", err, rep.Problems)
	}
}

func TestSupersedeReplacesTheCorrectedRowsOfADayAndKeepsTheOldObject(t *testing.T) {
	ctx := context.Background()
	f, _, day := correctionFixture(t)
	before := notes(t, f, day)
	objs, err := f.cat.List(ctx, catalog.Filter{Dataset: "events", From: &day, To: &day})
	if err != nil || len(objs) != 2 {
		t.Fatalf("day %s has %d objects (err %v), want 2 (the chunk and the late chunk)", day, len(objs), err)
	}
	chunk, late := objs[0], objs[1]

	rep := supersede(t, f, day)
	if len(rep.Days) != 1 || len(rep.Written) != 1 || len(rep.Superseded) != 1 || rep.Superseded[0] != chunk.ID ||
		rep.Rows != 20 || rep.Corrected != 3 {
		t.Fatalf("report %+v; want day %s rewritten: 1 object of 20 rows superseding %d, 3 rows corrected", rep, day, chunk.ID)
	}
	after := notes(t, f, day)
	if len(after) != len(before) || len(after) != 23 {
		t.Fatalf("retrieval returns %d rows after, %d before; want 23 both times", len(after), len(before))
	}
	for id, note := range before {
		want := note
		if id >= 10000001 && id <= 10000003 {
			want = "fixed " + itoa(id-10000000)
		}
		if after[id] != want {
			t.Errorf("id %d: note %q, want %q", id, after[id], want)
		}
	}
	now, err := f.cat.List(ctx, catalog.Filter{Dataset: "events", From: &day, To: &day})
	if err != nil || len(now) != 2 || now[0].ID != late.ID || now[1].ID != rep.Written[0] {
		t.Fatalf("current objects of the day: %+v (err %v); want the late chunk %d (untouched) and the new object %d", now, err, late.ID, rep.Written[0])
	}
	var by *int64
	if err := f.pool.QueryRow(ctx, `SELECT superseded_by FROM strata.objects WHERE id = $1`, chunk.ID).Scan(&by); err != nil || by == nil || *by != rep.Written[0] {
		t.Fatalf("old object superseded_by %v (err %v), want %d", by, err, rep.Written[0])
	}
	if _, err := f.arch.Store.Stat(ctx, storage.MustKey(strings.Split(chunk.Key, "/")...)); err != nil {
		t.Fatalf("the superseded object must stay in storage: %v", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects o, strata.objects n
		WHERE o.id = $1 AND n.id = $2 AND n.expires_at = o.expires_at`, chunk.ID, rep.Written[0]); n != 1 {
		t.Fatal("the new object must expire when the object it replaces does")
	}
	newObj := now[1]
	pr, err := parquetio.Open(storage.NewReaderAt(ctx, f.arch.Store, storage.MustKey(strings.Split(newObj.Key, "/")...), newObj.VersionID), newObj.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if md := pr.Metadata(); md[archive.KeySupersedes] != itoa(chunk.ID) || md[parquetio.KeyPartitionDay] != day.Format(time.DateOnly) {
		t.Fatalf("new object metadata supersedes=%q day=%q", md[archive.KeySupersedes], md[parquetio.KeyPartitionDay])
	}
	verifyClean(t, f)

	catalogRows := `SELECT (SELECT count(*) FROM strata.uploads) + (SELECT count(*) FROM strata.runs) + (SELECT count(*) FROM strata.objects)`
	before2 := count(t, f.pool, catalogRows)
	again := supersede(t, f, day)
	if len(again.Written) != 0 || len(again.Days) != 0 || count(t, f.pool, catalogRows) != before2 {
		t.Fatalf("the same corrections again wrote %+v; want nothing, not even a run", again)
	}
}

func TestSupersedeRefusesCorrectionsThatCannotBeApplied(t *testing.T) {
	ctx := context.Background()
	f, _, day := correctionFixture(t)
	cases := []struct {
		name, setup, want string
	}{
		{"a missing column", `CREATE TEMP TABLE corr AS SELECT id, note, at FROM events WITH NO DATA`, `lacks column "amount"`},
		{"a different type", `CREATE TEMP TABLE corr AS SELECT id, note, amount::float8 AS amount, at FROM events WITH NO DATA`, `column "amount" is double precision`},
		{"two rows for a key", `CREATE TEMP TABLE corr AS SELECT * FROM events WITH NO DATA;
			INSERT INTO corr VALUES (1, 'a', 1, now()), (1, 'b', 1, now())`, "more than one row"},
		{"a row moved to another day", `CREATE TEMP TABLE corr AS SELECT * FROM events WITH NO DATA;
			INSERT INTO corr VALUES (10000001, 'moved', 1.5, now())`, "stays in its day"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx, err := f.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, c.setup); err != nil {
				t.Fatal(err)
			}
			_, err = f.arch.Supersede(ctx, tx, f.spec, "corr", []time.Time{day})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE superseded_by IS NOT NULL`); n != 0 {
		t.Fatalf("%d objects superseded by refused corrections", n)
	}
}

// TestSupersedeInterruptedBetweenUploadAndCommitChangesNothing: whether it
// fails (a failpoint), the caller rolls back, or the process is killed, the
// old objects stay current, retrieval returns what it did, and the upload is
// an orphan that 'verify --repair' removes.
func TestSupersedeInterruptedBetweenUploadAndCommitChangesNothing(t *testing.T) {
	cases := []struct {
		name      string
		failpoint string
		kill      bool
		rollback  bool
	}{
		{name: "a failure after the upload", failpoint: "after-upload=error"},
		{name: "a failure just before the commit", failpoint: "in-commit-before-delete=error"},
		{name: "the caller rolling back", rollback: true},
		{name: "the process killed after the upload was verified", failpoint: "after-verify=kill", kill: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			f, dir, day := correctionFixture(t)
			before := notes(t, f, day)
			objsBefore := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE superseded_by IS NULL`)
			if c.kill {
				runSupersedeChild(t, f.pool, dir, f.arch.SpoolDir, day, c.failpoint)
			} else {
				fp, err := failpoint.Parse(c.failpoint)
				if err != nil {
					t.Fatal(err)
				}
				f.arch.Failpoints = fp
				tx, err := f.pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				corrections(t, tx)
				_, err = f.arch.Supersede(ctx, tx, f.spec, "corr", []time.Time{day})
				if c.rollback != (err == nil) || (err != nil && !errors.Is(err, failpoint.ErrInjected)) {
					t.Fatalf("supersede: %v", err)
				}
				tx.Rollback(ctx)
				f.arch.Failpoints = failpoint.Set{}
			}
			if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE superseded_by IS NULL`); n != objsBefore {
				t.Fatalf("%d current objects, want %d as before", n, objsBefore)
			}
			after := notes(t, f, day)
			for id, note := range before {
				if after[id] != note {
					t.Fatalf("id %d: note %q after, %q before", id, after[id], note)
				}
			}
			rep, err := f.arch.Verify(ctx, archive.VerifyOptions{Deep: true, Repair: true})
			if err != nil || len(rep.Repaired) != 1 {
				t.Fatalf("verify --repair: err %v, repaired %v, problems %+v; want the one orphan removed", err, rep.Repaired, rep.Problems)
			}
			verifyClean(t, f)
			// And the correction still goes through afterwards.
			if got := supersede(t, f, day); got.Corrected != 3 {
				t.Fatalf("supersede after the interruption corrected %d rows, want 3", got.Corrected)
			}
		})
	}
}

// runSupersedeChild runs Supersede in a child process (this test binary)
// that SIGKILLs itself at the failpoint.
func runSupersedeChild(t *testing.T, pool *pgxpool.Pool, dir, spool string, day time.Time, fp string) {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^TestSupersedeChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "STRATA_SUPERSEDE_CHILD=1", "CHILD_DB="+pool.Config().ConnString(),
		"CHILD_DIR="+dir, "CHILD_SPOOL="+spool, "CHILD_DAY="+day.Format(time.RFC3339), "CHILD_FAILPOINTS="+fp)
	out, err := cmd.CombinedOutput()
	var ee *osexec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("child: want it killed, got %v\n%s", err, out)
	}
	// The server ends the dead client's session (rolling back its
	// transaction and releasing its locks) when it notices: wait for it.
	for i := 0; ; i++ {
		n := count(t, pool, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if n == 0 {
			return
		}
		if i == 100 {
			t.Fatalf("the killed child's locks are still held after 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSupersedeChildProcess is the child of runSupersedeChild; it does
// nothing in a normal run.
func TestSupersedeChildProcess(t *testing.T) {
	if os.Getenv("STRATA_SUPERSEDE_CHILD") == "" {
		t.Skip("runs only as the child of TestSupersedeInterruptedBetweenUploadAndCommitChangesNothing")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CHILD_DB"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	store, err := local.Open(os.Getenv("CHILD_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := failpoint.Parse(os.Getenv("CHILD_FAILPOINTS"))
	if err != nil {
		t.Fatal(err)
	}
	day, _ := time.Parse(time.RFC3339, os.Getenv("CHILD_DAY"))
	arch := &archive.Archiver{Pool: pool, Catalog: cat, Store: store, Prefix: storage.MustKey("svc"),
		SpoolDir: filepath.Join(os.Getenv("CHILD_SPOOL"), "child"), Failpoints: fp}
	spec := archive.AnalyticsSpec{Dataset: "events", Table: "events", TimeColumn: "at", Key: []string{"id"},
		ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: "snappy"}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SET TIME ZONE 'UTC'`); err != nil {
		t.Fatal(err)
	}
	corrections(t, tx)
	_, err = arch.Supersede(ctx, tx, spec, "corr", []time.Time{day})
	t.Fatalf("supersede returned (%v) instead of being killed", err)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A superseded object stays in storage, immutable, until it expires, so
// verify must still check it: damage to it is reported like damage to a
// current object.
func TestVerifyChecksSupersededObjectsToo(t *testing.T) {
	ctx := context.Background()
	f, _, day := correctionFixture(t)
	before, err := f.arch.Verify(ctx, archive.VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	rep := supersede(t, f, day)
	if len(rep.Superseded) == 0 {
		t.Fatal("nothing was superseded")
	}
	after, err := f.arch.Verify(ctx, archive.VerifyOptions{Deep: true})
	if err != nil || len(after.Problems) > 0 {
		t.Fatalf("verify after supersede: %v %+v", err, after.Problems)
	}
	if after.Checked != before.Checked+len(rep.Written) {
		t.Fatalf("verify checked %d objects after the correction, %d before and %d written: superseded objects were skipped",
			after.Checked, before.Checked, len(rep.Written))
	}
	var key string
	if err := f.pool.QueryRow(ctx, `SELECT key FROM strata.objects WHERE id = $1`, rep.Superseded[0]).Scan(&key); err != nil {
		t.Fatal(err)
	}
	k, err := storage.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.arch.Store.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	damaged, err := f.arch.Verify(ctx, archive.VerifyOptions{})
	if err != nil || len(damaged.Problems) != 1 || damaged.Problems[0].Key != key {
		t.Fatalf("verify with the superseded object deleted: %v %+v, want one problem for %s", err, damaged.Problems, key)
	}
}
