package archive_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/faulty"
)

// mismatchedExpiries counts the committed objects whose expires_at is not
// the end of their day plus retention as PostgreSQL computes it.
const mismatchedExpiries = `SELECT count(*) FROM strata.objects
	WHERE expires_at IS DISTINCT FROM ((day + 1)::timestamp AT TIME ZONE 'UTC') + $1::interval`

func TestObjectsExpireAtTheEndOfTheirDayPlusRetentionNotAtArchiveTime(t *testing.T) {
	ctx := context.Background()
	f := newSourceFixture(t, true)
	exec(t, f.pool, `INSERT INTO events SELECT i, 'n', 1, date_trunc('day', now(), 'UTC') - make_interval(days => 91 + i % 3, hours => -(i % 24))
		FROM generate_series(1, 30) i`)
	if rep := f.run(t, archive.Options{}); len(rep.Days) != 3 {
		t.Fatalf("archived %d analytics days, want 3", len(rep.Days))
	}
	if _, err := f.arch.Ingest(ctx, f.spec, records(`{"id":1,"v":"a"}`, `{"id":2,"v":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects`); n != 4 {
		t.Fatalf("%d objects, want 3 analytics days and 1 source batch", n)
	}
	if n := count(t, f.pool, mismatchedExpiries, f.fixture.spec.ArchiveRetention); n != 0 {
		t.Fatalf("%d objects do not expire at the end of their day + archive.retention", n)
	}
	// An analytics day archived ~91 days after it ends is kept exactly
	// archive.retention after its day, not 91 days longer.
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE archive_type = 'analytics'
		AND expires_at < committed_at + $1::interval - interval '90 days'`, f.fixture.spec.ArchiveRetention); n != 3 {
		t.Fatalf("%d analytics objects expire ~91 days before commit time + retention, want 3", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects
		WHERE retain_until IS NOT NULL OR retention_mode IS NOT NULL`); n != 0 {
		t.Fatalf("%d objects record a write-once retention with immutability off", n)
	}
}

func TestExpireWaitsForRetainUntilAndDeletesAfter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, []int{100, 101}, 5)
	f.run(t, archive.Options{})
	// Both past their expiry; the first still under its write-once retention.
	exec(t, f.pool, `UPDATE strata.objects SET expires_at = now() - interval '1 hour'`)
	exec(t, f.pool, `UPDATE strata.objects SET retention_mode = 'compliance', retain_until = now() + interval '1 hour'
		WHERE id = (SELECT min(id) FROM strata.objects)`)
	exp, err := f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 1 || exp.Retained != 1 {
		t.Fatalf("expire: %+v, %v; want 1 expired and 1 retained", exp, err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE state = 'committed' AND retain_until > now()`); n != 1 {
		t.Fatal("the object under retention is no longer committed")
	}
	exec(t, f.pool, `UPDATE strata.objects SET retain_until = now() - interval '1 second' WHERE retain_until IS NOT NULL`)
	exp, err = f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 1 || exp.Retained != 0 {
		t.Fatalf("expire after retain-until: %+v, %v; want 1 expired", exp, err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE state <> 'expired'`); n != 0 {
		t.Fatalf("%d objects not expired", n)
	}
}

func TestADeleteTheStorageRefusesIsReportedAndRetriedNotFatal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, []int{100, 101, 102}, 5)
	f.run(t, archive.Options{})
	exec(t, f.pool, `UPDATE strata.objects SET expires_at = now() - interval '1 hour'`)
	var firstKey string
	if err := f.pool.QueryRow(ctx, `SELECT key FROM strata.objects ORDER BY id LIMIT 1`).Scan(&firstKey); err != nil {
		t.Fatal(err)
	}
	store := f.arch.Store
	f.arch.Store = faulty.Wrap(store, faulty.Options{Ops: []faulty.Op{faulty.OpDelete}, FailNth: []int{1},
		Err: func(faulty.Op, int) error { return storage.ErrImmutable }})
	exp, err := f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 2 || len(exp.Locked) != 1 || exp.Locked[0] != firstKey {
		t.Fatalf("expire: %+v, %v; want 2 expired and %s locked", exp, err, firstKey)
	}
	if _, err := store.Stat(ctx, storage.MustKey(strings.Split(firstKey, "/")...)); err != nil {
		t.Fatalf("the refused object: %v", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE key = $1 AND state = 'committed'`, firstKey); n != 1 {
		t.Fatal("the object the storage kept is not back to committed")
	}
	exp, err = f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 1 || exp.Expired[0] != firstKey {
		t.Fatalf("next expire: %+v, %v; want %s expired", exp, err, firstKey)
	}
	if _, err := store.Stat(ctx, storage.MustKey(strings.Split(firstKey, "/")...)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("the object is still in storage: %v", err)
	}
}

func TestVerifyFlagsObjectsTheStorageProtectsForLessThanTheirExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, []int{100, 101}, 5)
	f.run(t, archive.Options{})
	rep, err := f.arch.Verify(ctx, archive.VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || len(rep.Retention) != 2 {
		t.Fatalf("verify with immutability off: %+v, %v; want no problem and 2 retentions reported", rep, err)
	}
	rep, err = f.arch.Verify(ctx, archive.VerifyOptions{Immutability: map[string]storage.RetentionMode{"events": storage.RetentionGovernance}})
	if err != nil || len(rep.Problems) != 2 {
		t.Fatalf("verify with immutability on: %+v, %v; want both objects flagged", rep, err)
	}
	for _, p := range rep.Problems {
		if p.Kind != archive.ProblemRetention || !strings.Contains(p.Detail, "no retention") {
			t.Errorf("problem %+v; want retention: no retention", p)
		}
	}
	// An object past its expiry needs no retention any more.
	exec(t, f.pool, `UPDATE strata.objects SET expires_at = now() - interval '1 second'`)
	rep, err = f.arch.Verify(ctx, archive.VerifyOptions{Immutability: map[string]storage.RetentionMode{"events": storage.RetentionGovernance}})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify of expired objects: %+v, %v; want no problem", rep.Problems, err)
	}
}

func TestACorrectionAsksForTheRetentionOfTheObjectsItReplacesWhenLonger(t *testing.T) {
	ctx := context.Background()
	cf, _, day := correctionFixture(t)
	cf.spec.Immutability = storage.RetentionGovernance
	if n := count(t, cf.pool, `SELECT count(*) FROM strata.objects WHERE retention_mode IS NULL`); n != 3 {
		t.Fatalf("%d objects without retention; the fixture archives with immutability off", n)
	}
	// The day's first object was archived before the day-based rule: its
	// recorded expiry is 90 days later than the rule's.
	exec(t, cf.pool, `UPDATE strata.objects SET expires_at = expires_at + interval '90 days'
		WHERE id = (SELECT min(id) FROM strata.objects WHERE day = $1)`, day)
	rep := supersede(t, cf, day)
	if len(rep.Written) != 1 {
		t.Fatalf("report %+v; want one new object", rep)
	}
	var key string
	var until time.Time
	if err := cf.pool.QueryRow(ctx, `SELECT n.key, n.retain_until FROM strata.objects n, strata.objects o
		WHERE n.id = $1 AND o.id = $2 AND n.retention_mode = 'governance' AND n.retain_until = o.expires_at
		  AND n.expires_at = o.expires_at`, rep.Written[0], rep.Superseded[0]).Scan(&key, &until); err != nil {
		t.Fatalf("the new object does not ask for governance retention until the replaced object's expiry: %v", err)
	}
	info, err := cf.arch.Store.Stat(ctx, storage.MustKey(strings.Split(key, "/")...))
	if err != nil || info.Retention.Mode != storage.RetentionGovernance || !info.Retention.Until.Equal(until) {
		t.Fatalf("the storage states %+v (err %v) for %s, want governance until %s", info.Retention, err, key, until)
	}
}
