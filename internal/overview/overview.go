// Package overview reads what the web console shows at a glance: per
// dataset, the rows and bytes in PostgreSQL (Layer 3 and Layer 2) against
// the archive (source and analytics), the state of every day of both
// archives, and the integrity signals (the last verify, failed runs,
// uploads that never committed). It only reads, each call in one
// read-only REPEATABLE READ transaction on one pooled connection that is
// returned before the call ends.
package overview

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

// ExpiringWithin is how soon an object's expiry makes its day "expiring".
const ExpiringWithin = 30 * 24 * time.Hour

// Day states, from the least to the most pressing; a day shows the most
// pressing that applies (Day.State).
const (
	// StateLive: rows of the day are in the database, none archived.
	StateLive = "live"
	// StateArchived: the day's rows are in current archive objects only.
	StateArchived = "archived"
	// StatePartly: the day has current objects and rows still in the
	// database (late arrivals, or a source batch not yet archived).
	StatePartly = "partly"
	// StateSuperseded: a correction replaced objects of the day (the old
	// ones are kept, never read, until they expire).
	StateSuperseded = "superseded"
	// StateRestored: objects of the day were restored into Layer 2.
	StateRestored = "restored"
	// StateExpiring: a current object of the day expires within
	// ExpiringWithin.
	StateExpiring = "expiring"
	// StateExpired: every object of the day has expired (bytes gone) and
	// no row is live.
	StateExpired = "expired"
)

// Report is the overview of every dataset asked for.
type Report struct {
	// Now is the database clock when the report was read.
	Now       time.Time
	Datasets  []Dataset
	Integrity Integrity
}

// Dataset is one dataset's figures and days.
type Dataset struct {
	Name string
	// Layer3 and Layer2 are the database tables; nil when the dataset has
	// no such layer.
	Layer3, Layer2 *Table
	// Source and Analytics sum the current archive objects of each type
	// (committed, not superseded).
	Source, Analytics Archive
	// SourceDays and AnalyticsDays are the days with objects or live rows,
	// oldest first.
	SourceDays, AnalyticsDays []Day
}

// Table is a database table's size.
type Table struct {
	Name string
	// Rows is exact (count(*)), or the planner's estimate when Estimated;
	// Bytes is pg_total_relation_size (heap, indexes, TOAST).
	Rows, Bytes int64
	// Pending (Layer 3 only) counts rows not yet in a committed source
	// batch; -1 when Estimated.
	Pending int64
	// Estimated is set when the table is larger than Options.MaxCountRows:
	// Rows is pg_class.reltuples and its days are not counted (no live
	// days in the calendar).
	Estimated bool
}

// Archive sums an archive type's current objects.
type Archive struct {
	Objects     int64
	Rows, Bytes int64
	// Superseded, Restored and Expired count the other objects of the
	// catalog: kept for audit, not read by retrievals.
	Superseded, Restored, Expired int64
}

// Day is what one UTC day of one archive type holds.
type Day struct {
	Day time.Time
	// State is one of the State constants.
	State string
	// Objects, Rows and Bytes are the current objects'.
	Objects     int
	Rows, Bytes int64
	// Superseded, Restored and Expired count the day's other objects.
	Superseded, Restored, Expired int
	// Live counts the day's rows in the database that are not archived.
	Live int64
	// ExpiresAt is the earliest expiry of the day's current objects.
	ExpiresAt *time.Time
}

// DefaultMaxCountRows is Options.MaxCountRows when zero.
const DefaultMaxCountRows = 2_000_000

// Options bound what Build reads.
type Options struct {
	// MaxCountRows is the largest table (by the planner's estimate,
	// pg_class.reltuples) whose rows are counted per day on every
	// overview; a larger one shows the estimate and no live days, so the
	// page stays fast whatever the database holds.
	MaxCountRows int64
}

// Build reads the overview of datasets.
func Build(ctx context.Context, pool *pgxpool.Pool, datasets []config.Dataset, opts Options) (*Report, error) {
	if opts.MaxCountRows <= 0 {
		opts.MaxCountRows = DefaultMaxCountRows
	}
	rep := &Report{}
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&rep.Now); err != nil {
			return fmt.Errorf("read the database clock: %w", err)
		}
		rep.Now = rep.Now.UTC()
		names := make([]string, len(datasets))
		for i, ds := range datasets {
			names[i] = ds.Name
		}
		objs, err := objectDays(ctx, tx, names)
		if err != nil {
			return err
		}
		for i := range datasets {
			d, err := dataset(ctx, tx, &datasets[i], objs, rep.Now, opts.MaxCountRows)
			if err != nil {
				return fmt.Errorf("dataset %s: %w", datasets[i].Name, err)
			}
			rep.Datasets = append(rep.Datasets, d)
		}
		rep.Integrity, err = integrity(ctx, tx, names)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	return rep, nil
}

// dayKey identifies a day of an archive type of a dataset.
type dayKey struct {
	dataset, typ string
	day          time.Time
}

// typeKey identifies an archive type of a dataset.
type typeKey struct{ dataset, typ string }

// objectDays sums the catalog's objects of the datasets per type and day,
// each type's days sorted. The rows are read as they lie (one sequential
// scan, no sort or aggregate in the database, which spill to disk on a
// large catalog) and summed here.
func objectDays(ctx context.Context, tx pgx.Tx, names []string) (map[typeKey][]Day, error) {
	rows, err := tx.Query(ctx, `SELECT dataset, archive_type, day, state, superseded_by IS NOT NULL, rows, bytes, expires_at
		FROM strata.objects WHERE dataset = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("read the catalog's days: %w", err)
	}
	defer rows.Close()
	out := map[typeKey][]Day{}
	var k dayKey
	var state string
	var superseded bool
	var n, b int64
	var exp *time.Time
	var tk typeKey
	var cur []Day
	for rows.Next() {
		if err := rows.Scan(&k.dataset, &k.typ, &k.day, &state, &superseded, &n, &b, &exp); err != nil {
			return nil, fmt.Errorf("read the catalog's days: %w", err)
		}
		if k.dataset != tk.dataset || k.typ != tk.typ {
			out[tk] = cur
			tk = typeKey{k.dataset, k.typ}
			cur = out[tk]
		}
		var d *Day
		cur, d = dayOf(cur, k.day.UTC())
		addObject(d, state, superseded, n, b, exp)
	}
	out[tk] = cur
	delete(out, typeKey{})
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the catalog's days: %w", err)
	}
	return out, nil
}

// dayOf returns the Day of day in days (sorted), appending or inserting it
// when missing. The catalog's rows mostly come in day order, so this is
// nearly always a look at the last element.
func dayOf(days []Day, day time.Time) ([]Day, *Day) {
	n := len(days)
	switch {
	case n > 0 && days[n-1].Day.Equal(day):
		return days, &days[n-1]
	case n == 0 || days[n-1].Day.Before(day):
		days = append(days, Day{Day: day})
		return days, &days[n]
	}
	i, found := slices.BinarySearchFunc(days, day, func(d Day, t time.Time) int { return d.Day.Compare(t) })
	if !found {
		days = slices.Insert(days, i, Day{Day: day})
	}
	return days, &days[i]
}

func byDay(a, b Day) int { return a.Day.Compare(b.Day) }

// addObject counts one catalog object into its day.
func addObject(d *Day, state string, superseded bool, rows, bytes int64, exp *time.Time) {
	switch {
	case state == catalog.StateExpired:
		d.Expired++
	case state == catalog.StateRestored:
		d.Restored++
	case superseded:
		d.Superseded++
	default:
		d.Objects++
		d.Rows += rows
		d.Bytes += bytes
		if exp != nil && (d.ExpiresAt == nil || exp.Before(*d.ExpiresAt)) {
			e := exp.UTC()
			d.ExpiresAt = &e
		}
	}
}

// dataset gathers one dataset's tables and days.
func dataset(ctx context.Context, tx pgx.Tx, ds *config.Dataset, objs map[typeKey][]Day, now time.Time, maxCount int64) (Dataset, error) {
	out := Dataset{Name: ds.Name}
	live := map[dayKey]int64{}
	if ds.Source != nil {
		t, err := layer3(ctx, tx, ds, live, maxCount)
		if err != nil {
			return out, err
		}
		out.Layer3 = t
	}
	if ds.Analytics != nil {
		t, err := layer2(ctx, tx, ds, live, maxCount)
		if err != nil {
			return out, err
		}
		out.Layer2 = t
	}
	out.SourceDays, out.Source = days(ds.Name, catalog.TypeSource, objs[typeKey{ds.Name, catalog.TypeSource}], live, now)
	out.AnalyticsDays, out.Analytics = days(ds.Name, catalog.TypeAnalytics, objs[typeKey{ds.Name, catalog.TypeAnalytics}], live, now)
	return out, nil
}

// days merges the catalog's days (sorted) and the live rows' days of one
// archive type, oldest first, each with its state, and sums them.
func days(dataset, typ string, objs []Day, live map[dayKey]int64, now time.Time) ([]Day, Archive) {
	var sum Archive
	out := objs
	seen := make(map[time.Time]int, len(live))
	for i := range out {
		d := &out[i]
		sum.Objects += int64(d.Objects)
		sum.Rows += d.Rows
		sum.Bytes += d.Bytes
		sum.Superseded += int64(d.Superseded)
		sum.Restored += int64(d.Restored)
		sum.Expired += int64(d.Expired)
		if len(live) > 0 {
			seen[d.Day] = i
		}
	}
	extra := false
	for k, n := range live {
		if k.dataset != dataset || k.typ != typ {
			continue
		}
		if i, ok := seen[k.day]; ok {
			out[i].Live = n
			continue
		}
		out = append(out, Day{Day: k.day, Live: n})
		extra = true
	}
	for i := range out {
		out[i].State = stateOf(&out[i], now)
	}
	if extra {
		slices.SortFunc(out, byDay)
	}
	return out, sum
}

// stateOf is the most pressing state that applies to d.
func stateOf(d *Day, now time.Time) string {
	switch {
	case d.ExpiresAt != nil && d.ExpiresAt.Before(now.Add(ExpiringWithin)):
		return StateExpiring
	case d.Restored > 0:
		return StateRestored
	case d.Superseded > 0:
		return StateSuperseded
	case d.Objects > 0 && d.Live > 0:
		return StatePartly
	case d.Objects > 0:
		return StateArchived
	case d.Live > 0:
		return StateLive
	default:
		return StateExpired
	}
}
