package overview

import (
	"context"
	"testing"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/testenv"
)

func TestAPartitionedTableIsSizedByItsPartitions(t *testing.T) {
	ctx := context.Background()
	te := testenv.New(t, testenv.Options{})
	te.Exec(`CREATE TABLE pt (id int, t timestamptz NOT NULL) PARTITION BY RANGE (t)`)
	te.Exec(`CREATE TABLE pt_a PARTITION OF pt FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')`)
	te.Exec(`CREATE TABLE pt_b PARTITION OF pt FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')`)
	te.Exec(`INSERT INTO pt SELECT i, timestamptz '2024-01-01' + i * interval '1 hour' FROM generate_series(0, 1000) i`)
	te.Exec(`ANALYZE pt`)
	tx, err := te.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var got Table
	if err := tableSize(ctx, tx, config.TableName{Name: "pt"}, &got, 10); err != nil {
		t.Fatal(err)
	}
	want := te.Count(`SELECT pg_total_relation_size('pt_a') + pg_total_relation_size('pt_b')`)
	if got.Bytes != want || want == 0 || !got.Estimated || got.Rows != 1001 {
		t.Errorf("partitioned table: %+v, want %d bytes and its 1001 rows estimated (past 10)", got, want)
	}
	var none Table
	if err := tableSize(ctx, tx, config.TableName{Name: "no_such_table"}, &none, 10); err != nil || none.Bytes != -1 || none.Estimated {
		t.Errorf("a missing table: %+v, %v; want bytes -1", none, err)
	}
}
