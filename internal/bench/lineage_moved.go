package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/storage/local"
)

// The lineage section's cases of issue 9: compare's search of the whole
// analytics archive for keys whose time column moved to another day. In a
// database of its own: -moved-records 1 KB orders records ingested today
// (keys 1..n, live in Layer 2), and -moved-days days of history (91 days
// ago and older, -moved-day-rows rows each) inserted into Layer 2 directly;
// then the time column of 1% of the records' rows is moved to a history day
// (keys ending in 01, to a day spread by the key), and strata archive moves
// the history and the moved rows into one object per day. The history keys
// interleave with the records' keys (each day has one key below 1, the rest
// above n): every object's key range holds the records' keys, so the
// catalog's key ranges rule nothing out and the statistics, bloom filters
// and key columns of each object decide (the worst case for the search).
//
//	(6) compare: 1% of the keys moved among the day objects;
//	(7) replay --apply: the moved rows back to Layer 2, their stale copies
//	    superseded (run once: a second run has nothing to do);
//	(8) compare again: every key where it should be, the same archive.
const movedDB = "strata_bench_moved"

// movedRuns prepares the moved-keys data and measures cases (6)-(8),
// appending them to r.
func (b *bench) movedRuns(ctx context.Context, r *lineageResults) error {
	e, n, err := b.prepareMoved(ctx, r)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	moved := r.movedKeys
	compare := func() (*strata.CompareReport, error) {
		return e.svc.Compare(ctx, strata.CompareRequest{Dataset: "orders", From: r.movedFrom, To: r.movedTo})
	}
	apply := func() (*strata.CompareReport, error) {
		return e.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: r.movedFrom, To: r.movedTo, Apply: true})
	}
	steps := []struct {
		c     *lcase
		reps  int
		run   func() (*strata.CompareReport, error)
		check func(*strata.CompareReport) error
	}{
		{&lcase{id: "6", name: fmt.Sprintf("compare, 1%% of the keys moved among %d archived day objects", b.movedDays)}, b.reps, compare,
			func(rep *strata.CompareReport) error {
				if rep.Moved != moved || rep.Changed != moved || rep.Missing != 0 || rep.Matched != n-moved {
					return fmt.Errorf("moved %d, changed %d, missing %d, matched %d: want %d moved and changed, none missing", rep.Moved, rep.Changed, rep.Missing, rep.Matched, moved)
				}
				return nil
			}},
		{&lcase{id: "7", name: "replay --apply: the moved rows back to Layer 2 (once)", written: true}, 1, apply,
			func(rep *strata.CompareReport) error {
				if rep.Applied == nil || rep.Applied.MovedToLayer2 != moved || rep.Applied.Inserted != moved {
					return fmt.Errorf("applied %+v: want %d rows moved to Layer 2", rep.Applied, moved)
				}
				return nil
			}},
		{&lcase{id: "8", name: "compare again, every key where it should be, same archive"}, b.reps, compare,
			func(rep *strata.CompareReport) error {
				if !rep.Agree || rep.Matched != n || rep.Search.Objects != 0 {
					return fmt.Errorf("agree %t, matched %d, search %+v: want %d matched, nothing searched", rep.Agree, rep.Matched, rep.Search, n)
				}
				return nil
			}},
	}
	for _, st := range steps {
		r.cases = append(r.cases, st.c)
		for i := range st.reps {
			run, err := b.lineageOnce(e.log, st.run)
			if err == nil {
				err = st.check(run.Rep)
			}
			if err != nil {
				return fmt.Errorf("lineage (%s) %s, run %d: %w", st.c.id, st.c.name, i+1, err)
			}
			st.c.runs = append(st.c.runs, run)
			s := run.Rep.Search
			b.step("lineage (%s) %s, run %d/%d: %s; searched %d keys in %d objects: %d ruled out by key range, %d probed, %d key columns read, %d read",
				st.c.id, st.c.name, i+1, st.reps, run.Wall.Round(time.Millisecond), s.Keys, s.Objects, s.SkippedRange, s.Probed, s.KeyColumns, s.Read)
		}
	}
	return nil
}

// prepareMoved builds the moved-keys database and archive and returns the
// number of keys of the period.
func (b *bench) prepareMoved(ctx context.Context, r *lineageResults) (*lineageEnv, int64, error) {
	if err := b.freshDB(ctx, movedDB); err != nil {
		return nil, 0, err
	}
	e := &lineageEnv{dir: filepath.Join(b.state, "archive", "moved"), log: &markLog{warn: func(s string) { b.step("warning: %s", s) }}}
	var err error
	if e.pool, err = pgxpool.New(ctx, b.pg.cl.URL(movedDB)); err != nil {
		return e, 0, err
	}
	ds := demo.Datasets[2]
	if err := demo.Create(ctx, e.pool, ds, 0); err != nil {
		return e, 0, err
	}
	if err := demo.CreateSource(ctx, e.pool, ds); err != nil {
		return e, 0, err
	}
	if err := local.RemoveArchive(e.dir); err != nil {
		return e, 0, err
	}
	tr, err := filepath.Abs("transforms/orders.sql")
	if err != nil {
		return e, 0, err
	}
	if e.cfg, err = b.writeOrdersConfig("strata-moved.yaml", b.pg.cl.URL(movedDB), e.dir, tr); err != nil {
		return e, 0, err
	}
	file := filepath.Join(b.state, "moved-1k.jsonl")
	if _, err := writeRecords(file, b.movedRecords); err != nil {
		return e, 0, err
	}
	if err := b.timed(fmt.Sprintf("moved data: strata ingest of %s records (not measured)", thousands(float64(b.movedRecords))), func() error {
		out, err := exec.CommandContext(ctx, b.strata, "ingest", "--config", e.cfg, "--dataset", "orders", file).CombinedOutput()
		if err != nil {
			return fmt.Errorf("strata ingest: %w: %s", err, out)
		}
		return nil
	}); err != nil {
		return e, 0, err
	}
	var n int64
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), date_trunc('second', min(ingested_at)),
		date_trunc('second', max(ingested_at)) + interval '1 second' FROM source_orders`).Scan(&n, &r.movedFrom, &r.movedTo); err != nil {
		return e, 0, err
	}
	if r.movedKeys, err = b.movedHistory(ctx, e); err != nil {
		return e, 0, err
	}
	h := slog.New(e.log)
	e.svc, err = strata.Open(ctx, strata.Options{ConfigFile: e.cfg, Logger: h})
	if err != nil {
		return e, 0, err
	}
	err = b.timed(fmt.Sprintf("moved data: strata archive of %d days (not measured)", b.movedDays), func() error {
		rep, err := e.svc.ArchiveAnalytics(ctx, "orders", archive.Options{})
		if err == nil {
			r.movedObjects = int64(len(rep.Days))
		}
		return err
	})
	return e, n, err
}

// movedHistory inserts the history days into Layer 2, after the records'
// keys, and moves every 100th of the records' rows to them; it returns how
// many it moved.
func (b *bench) movedHistory(ctx context.Context, e *lineageEnv) (int64, error) {
	var moved int64
	err := b.timed(fmt.Sprintf("moved data: %d days x %d rows of history, 1%% of the records' rows moved among them (not measured)",
		b.movedDays, b.movedDayRows), func() error {
		var top int64
		if err := e.pool.QueryRow(ctx, `SELECT max(order_id) FROM orders`).Scan(&top); err != nil {
			return err
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO orders (order_id, customer_id, status, total, currency, items, ordered_at, shipped_on)
			SELECT CASE WHEN j = 0 THEN -1 - d ELSE $1 + d::bigint * $3 + j END, 1000 + j % 7, 'paid', 10 + j % 90, 'EUR', 1 + j % 5,
				date_trunc('day', now(), 'UTC') - make_interval(days => 91 + d) + make_interval(secs => j * 60), NULL
			FROM generate_series(0, $2 - 1) d, generate_series(0, $3 - 1) j`, top, b.movedDays, b.movedDayRows); err != nil {
			return fmt.Errorf("insert the history: %w", err)
		}
		tag, err := e.pool.Exec(ctx, `UPDATE orders SET ordered_at = date_trunc('day', now(), 'UTC')
				- make_interval(days => 91 + (order_id / 100 * 7919 % $2)::int) + interval '12 hours'
			WHERE order_id BETWEEN 0 AND $1 AND order_id % 100 = 1`, top, b.movedDays)
		if err != nil {
			return fmt.Errorf("move the time column: %w", err)
		}
		moved = tag.RowsAffected()
		_, err = e.pool.Exec(ctx, `VACUUM ANALYZE orders`)
		return err
	})
	return moved, err
}

// reportMoved prints what the moved-keys cases' data was.
func (b *bench) reportMoved(r *lineageResults) {
	if r.movedObjects == 0 {
		return
	}
	fmt.Fprintf(b.out, "\n(6)-(8) (issue 9): %s records ingested today (keys 1..n, live) in a database of their own, plus %d days of history x %d rows\n",
		thousands(float64(b.movedRecords)), b.movedDays, b.movedDayRows)
	fmt.Fprintf(b.out, "          inserted 91+ days back with keys interleaving the records' (every object's key range holds them: the catalog rules nothing out);\n")
	fmt.Fprintf(b.out, "          the time column of keys ending in 01 (1%%) moved to a history day; strata archive wrote %d day objects; period %s to %s\n",
		r.movedObjects, r.movedFrom.UTC().Format(time.RFC3339), r.movedTo.UTC().Format(time.RFC3339))
	for _, c := range r.cases {
		if c.id < "6" {
			continue
		}
		m, _, _ := bestLineage(c.runs)
		s := m.Rep.Search
		fmt.Fprintf(b.out, "  (%s)  searched %d keys in %d objects: %d ruled out by key range, %d probed (footer statistics, bloom filters), %d of them with key columns read, %d read whole; moved %d\n",
			c.id, s.Keys, s.Objects, s.SkippedRange, s.Probed, s.KeyColumns, s.Read, m.Rep.Moved)
	}
	_ = os.Remove(filepath.Join(b.state, "moved-1k.jsonl"))
}
