package iceberg_test

import (
	"context"
	"slices"
	"testing"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/google/uuid"

	"github.com/apache/iceberg-go/table"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/iceberg"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// readings has a column of every kind Strata archives; the test adds note
// later.
const readingsSQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE readings (
	id bigint PRIMARY KEY, at timestamptz NOT NULL, local_at timestamp, d date, t time,
	s smallint, i integer, r real, v double precision, n numeric, ok boolean, u uuid,
	j jsonb, js json, b bytea, m mood, iv interval, c char(3), tags text[], nums integer[]);
INSERT INTO readings
SELECT g, date_trunc('day', now()) - interval '100 days' + g * interval '1 hour',
       '2024-02-29 12:34:56.5'::timestamp + g * interval '1 day', DATE '2024-02-29' + g, TIME '12:34:56' + g * interval '1 minute',
       g::smallint, -g, g + 0.25, g * 1.5, (g * 12.345)::numeric(10,3), g % 2 = 0,
       md5(g::text)::uuid, jsonb_build_object('g', g, 'a', ARRAY[1, 2]), '{"x" : 1}'::json, decode('00ff' || lpad(to_hex(g), 2, '0'), 'hex'),
       (ARRAY['sad','ok','happy']::mood[])[1 + g % 3], make_interval(days => g, secs => 1.5), 'ab', ARRAY['a' || g, NULL, 'b'], ARRAY[g, -g]
FROM generate_series(1, 6) g;
INSERT INTO readings (id, at) VALUES (7, date_trunc('day', now()) - interval '100 days' + interval '23 hours');`

var (
	readingsCols  = []string{"id", "at", "local_at", "d", "t", "s", "i", "r", "v", "n", "ok", "u", "j", "js", "b", "m", "iv", "c", "tags", "nums"}
	readingsDates = map[string]bool{"d": true}
	readingsDuck  = map[string]string{"at": `epoch_us("at")`, "local_at": "epoch_us(local_at)", "d": "CAST(d AS VARCHAR)",
		"t": "CAST(t AS VARCHAR)", "j": "CAST(j AS VARCHAR)", "js": "CAST(js AS VARCHAR)", "b": "lower(hex(b))", "u": "CAST(u AS VARCHAR)"}
)

func TestEveryTypeReadsBackAndAnAddedColumnIsSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	e := testenv.New(t, testenv.Options{Extra: noTables, Datasets: []testenv.Dataset{{Name: "readings", Key: "id", TimeColumn: "at"}}})
	e.Exec(readingsSQL)
	w := &world{env: e, svc: testsvc.Open(t, e, strata.Options{})}
	w.format = w.newFormat(t, failpoint.Set{})
	check := func(cols []string) {
		t.Helper()
		w.version++
		tb := loadTable(t, w.svc, "readings", "analytics", "at", w.version)
		if _, err := w.format.Publish(ctx, tb); err != nil {
			t.Fatalf("publish: %v", err)
		}
		rows := testsvc.Retrieved(t, w.svc, strata.RetrieveRequest{Table: "readings", Columns: cols}, readingsDates)
		var got []string
		err := w.format.WithTable(ctx, "readings", "analytics", func(tbl *table.Table) error {
			got = scanned(t, tbl, cols)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(got, rows); d != "" {
			t.Errorf("iceberg-go's scan vs strata retrieve: %s", d)
		}
		listed, err := w.format.Listed(ctx, "readings", "analytics")
		if err != nil {
			t.Fatal(err)
		}
		if duck := duckdbRows(t, localCopies(t, w.svc.Store(), e.ArchiveDir, listed), cols, readingsDuck); len(listed) > 0 {
			if d := diff(duck, rows); d != "" {
				t.Errorf("DuckDB vs strata retrieve: %s", d)
			}
		}
	}
	if rep, err := w.svc.ArchiveAnalytics(ctx, "readings", archive.Options{}); err != nil || rep.Rows() != 7 {
		t.Fatalf("archive: %v, %d rows", err, rep.Rows())
	}
	check(readingsCols)
	prunesOnEveryType(t, w.format)
	ids := fieldIDs(t, w.format, "readings")

	e.Exec(`ALTER TABLE readings ADD COLUMN note text`)
	e.Exec(`INSERT INTO readings (id, at, v, note) VALUES (8, date_trunc('day', now()) - interval '99 days', 8.5, 'added later')`)
	if rep, err := w.svc.ArchiveAnalytics(ctx, "readings", archive.Options{}); err != nil || rep.Rows() != 1 {
		t.Fatalf("archive after the column was added: %v, %d rows", err, rep.Rows())
	}
	check(append(slices.Clone(readingsCols), "note"))
	after := fieldIDs(t, w.format, "readings")
	for name, id := range ids {
		if after[name] != id {
			t.Errorf("column %s has field id %d after the schema change, %d before", name, after[name], id)
		}
	}
	if id, ok := after["note"]; !ok || slices.Contains(valuesOf(ids), id) {
		t.Errorf("the added column note has field id %d (present %t); ids before: %v", id, ok, ids)
	}
}

func fieldIDs(t *testing.T, f *iceberg.Format, dataset string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := f.WithTable(context.Background(), dataset, "analytics", func(tbl *table.Table) error {
		for _, fl := range tbl.Schema().Fields() {
			out[fl.Name] = fl.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func valuesOf(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// prunesOnEveryType plans scans of the one-file table with filters just
// past each column's largest value (no file may be planned: the bound was
// published and read back as the value it is) and at a value inside its
// range (the file is planned).
func prunesOnEveryType(t *testing.T, f *iceberg.Format) {
	t.Helper()
	ctx := context.Background()
	day := func(s string) ice.Date {
		d, _ := time.Parse(time.DateOnly, s)
		return ice.Date(d.Unix() / 86400)
	}
	ts, _ := time.Parse(time.DateTime, "2024-03-06 12:34:56.5")
	u := uuid.MustParse("c81e728d-9d4c-2f63-6f06-7f89cc14862c")
	cases := []struct {
		name   string
		filter ice.BooleanExpression
		want   int
	}{
		{"s > 6", ice.GreaterThan(ice.Reference("s"), int32(6)), 0},
		{"s = 3", ice.EqualTo(ice.Reference("s"), int32(3)), 1},
		{"i < -6", ice.LessThan(ice.Reference("i"), int32(-6)), 0},
		{"id > 7", ice.GreaterThan(ice.Reference("id"), int64(7)), 0},
		{"r > 6.25", ice.GreaterThan(ice.Reference("r"), float32(6.25)), 0},
		{"r = 2.25", ice.EqualTo(ice.Reference("r"), float32(2.25)), 1},
		{"v > 9", ice.GreaterThan(ice.Reference("v"), 9.0), 0},
		{"d > 2024-03-06", ice.GreaterThan(ice.Reference("d"), day("2024-03-06")), 0},
		{"d = 2024-03-01", ice.EqualTo(ice.Reference("d"), day("2024-03-01")), 1},
		{"t > 12:40:56", ice.GreaterThan(ice.Reference("t"), ice.Time((12*3600+40*60+56)*1e6)), 0},
		{"local_at > its max", ice.GreaterThan(ice.Reference("local_at"), ice.Timestamp(ts.UnixMicro())), 0},
		{"local_at = its max", ice.EqualTo(ice.Reference("local_at"), ice.Timestamp(ts.UnixMicro())), 1},
		{"m > 'sad'", ice.GreaterThan(ice.Reference("m"), "sad"), 0},
		{"c < 'ab '", ice.LessThan(ice.Reference("c"), "ab "), 0},
		{"u = a uuid present", ice.EqualTo(ice.Reference("u"), u), 1},
		{"u > ffff...", ice.GreaterThan(ice.Reference("u"), uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff")), 0},
	}
	err := f.WithTable(ctx, "readings", "analytics", func(tbl *table.Table) error {
		for _, c := range cases {
			tasks, err := tbl.Scan(table.WithRowFilter(c.filter)).PlanFiles(ctx)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if len(tasks) != c.want {
				t.Errorf("%s: %d files planned, want %d", c.name, len(tasks), c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
