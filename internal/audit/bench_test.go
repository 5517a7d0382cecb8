package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/audit"
)

// BenchmarkVerifyMillionRecords times audit.Verify over a chain of one
// million records (read from PostgreSQL, every hash recomputed, checked
// against an anchor): docs/BENCHMARKS.md.
//
//	go test ./internal/audit/ -run '^$' -bench VerifyMillion -benchtime 3x
func BenchmarkVerifyMillionRecords(b *testing.B) {
	const n = 1_000_000
	w := newWorld(b)
	ctx := context.Background()
	head := fillChain(b, w, n)
	if err := w.anc.Write(ctx, w.pool, head); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := audit.Verify(ctx, w.pool, w.store, w.dir)
		if err != nil || !rep.OK() || rep.Records != n {
			b.Fatalf("verify: %v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// fillChain COPYs a valid chain of n records into strata.audit and
// returns its head.
func fillChain(b *testing.B, w *world, n int) audit.Anchor {
	b.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	from, to := at.AddDate(0, 0, -1), at
	prev := audit.Genesis
	rows := make([][]any, n)
	for i := range n {
		r := audit.Record{Seq: int64(i + 1), At: at.Add(time.Duration(i) * time.Millisecond), Actor: fmt.Sprintf("user%d", i%50),
			Via: "http", Addr: "10.1.2.3", DBRole: "strata", Action: audit.ActionRetrieve, Dataset: "orders",
			From: &from, To: &to, Rows: int64(i), Objects: 3, Result: audit.ResultOK, Detail: "type analytics; columns a,b,c", PrevHash: prev}
		r.Hash = r.ComputeHash()
		prev = r.Hash
		rows[i] = []any{r.Seq, r.At, r.Actor, r.Via, r.Addr, r.DBRole, r.Action, r.Dataset, r.From, r.To,
			r.Rows, r.Objects, r.Result, r.Error, r.Detail, r.PrevHash, r.Hash}
	}
	cols := []string{"seq", "at", "actor", "via", "addr", "db_role", "action", "dataset", "period_from", "period_to",
		"rows", "objects", "result", "error", "detail", "prev_hash", "hash"}
	if _, err := w.pool.CopyFrom(context.Background(), pgx.Identifier{"strata", "audit"}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	last := rows[n-1]
	return audit.Anchor{Seq: last[0].(int64), Hash: last[16].(string), At: last[1].(time.Time)}
}

// BenchmarkRecord times one action's record in a transaction of its own
// (what a retrieval or a replay pays).
func BenchmarkRecord(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	for b.Loop() {
		if err := w.trail.Record(ctx, audit.Entry{Action: audit.ActionRetrieve, Dataset: "orders", Rows: 10}); err != nil {
			b.Fatal(err)
		}
	}
}
