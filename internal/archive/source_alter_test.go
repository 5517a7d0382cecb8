package archive_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
)

// A long-running process (strata serve) archives the same Layer 3 table
// before and after an ALTER TABLE: one pooled connection, so a statement
// cached before the change would be reused after it.
func TestSourceArchivingGoesOnAfterAColumnChangesType(t *testing.T) {
	f := newSourceFixture(t, false)
	ctx := context.Background()
	exec(t, f.pool, `ALTER TABLE source_events ADD COLUMN note varchar(10)`)
	cfg := f.pool.Config().Copy()
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(one.Close)
	arch := *f.arch
	arch.Pool = one
	for i, alter := range []string{"", `ALTER TABLE source_events ALTER COLUMN note TYPE integer USING length(note)`} {
		if alter != "" {
			exec(t, f.pool, alter)
		}
		exec(t, f.pool, `INSERT INTO source_events (raw_data, note) SELECT json_build_object('id', i), '1' FROM generate_series(1, 10) i`)
		rep, err := arch.Source(ctx, f.spec, archive.SourceOptions{Flush: true})
		if err != nil || rep.Rows() != 10 {
			t.Fatalf("run %d: archived %d rows (err %v), want 10", i+1, rep.Rows(), err)
		}
	}
}
