package erasure_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/erasure"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// world is the orders dataset with its subject configured (customer_id),
// 600 orders of 50 customers over 6 days ingested in 6 requests (6 source
// objects), and the days older than 2 days archived (analytics objects).
type world struct {
	t   *testing.T
	env *testenv.Env
	svc *strata.Service
	now time.Time
}

// subjectCfg is the orders dataset's subject: configuration.
const subjectCfg = "subject:\n  columns: [customer_id]\n  source_path: customer_id"

func newWorld(t *testing.T, kind, datasetExtra string) *world {
	t.Helper()
	env := testenv.New(t, testenv.Options{Storage: kind, Extra: "erasure:\n  key_file: erasure.key",
		Datasets: []testenv.Dataset{{Name: "orders", Source: true, Transform: "orders.sql", Retention: "2d",
			Extra: subjectCfg + "\n" + datasetExtra}}})
	w := &world{t: t, env: env, now: time.Now().UTC()}
	w.svc = testsvc.Open(t, env, strata.Options{})
	ctx := context.Background()
	for b := 0; b < 6; b++ {
		if _, err := w.svc.Ingest(ctx, "orders", strings.NewReader(records(b*100+1, 100, w.now))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := env.Count(`SELECT count(*) FROM strata.objects WHERE archive_type = 'analytics'`); n < 3 {
		t.Fatalf("the world has %d analytics objects, want at least 3", n)
	}
	return w
}

// records are orders first.. with customer_id = order_id % 50, ordered
// (order_id % 6) days ago.
func records(first, n int, now time.Time) string {
	var b strings.Builder
	for id := first; id < first+n; id++ {
		at := now.Add(-time.Duration(id%6)*24*time.Hour - time.Hour).Format(time.RFC3339)
		fmt.Fprintf(&b, `{"order_id": %d, "customer_id": %d, "status": "PAID", "total": "%d.50", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": null}`+"\n",
			id, id%50, id, 1+id%9, at)
	}
	return b.String()
}

// key returns the world's erasure key (created by the first erasure).
func (w *world) key() erasure.Key {
	w.t.Helper()
	k, err := erasure.LoadKey(filepath.Join(w.env.Dir, "erasure.key"))
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// snapshot is every row of every place, as text, in a fixed order.
type snapshot struct {
	layer2, layer3, analytics, source []string
}

// snap reads the places, keeping the rows for which keep says true of
// their customer_id.
func (w *world) snap(keep func(customer string) bool) snapshot {
	w.t.Helper()
	var s snapshot
	s.layer2 = w.rows(`SELECT customer_id::text, row_to_json(o)::text FROM orders o ORDER BY order_id`, keep)
	s.layer3 = w.rows(`SELECT raw_data->>'customer_id', row_to_json(s)::text FROM source_orders s ORDER BY raw_id`, keep)
	s.analytics = w.archived("analytics", "customer_id", keep)
	s.source = w.archived("source", "", keep)
	return s
}

func (w *world) rows(sql string, keep func(string) bool) []string {
	w.t.Helper()
	rows, err := w.env.Pool.Query(context.Background(), sql)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c, text string
		if err := rows.Scan(&c, &text); err != nil {
			w.t.Fatal(err)
		}
		if keep(c) {
			out = append(out, text)
		}
	}
	return out
}

// archived retrieves every archived row of typ (source: the raw record's
// customer_id decides), sorted.
func (w *world) archived(typ, col string, keep func(string) bool) []string {
	w.t.Helper()
	rows, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{Table: "orders", DataType: typ,
		Start: w.now.AddDate(0, 0, -30), End: w.now.AddDate(0, 0, 1)})
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for r, err := range rows.All() {
		if err != nil {
			w.t.Fatal(err)
		}
		c := fmt.Sprint(r[col])
		if typ == "source" {
			c = customerOf(r["raw_data"])
		}
		if keep(c) {
			out = append(out, fmt.Sprint(r))
		}
	}
	slices.Sort(out)
	return out
}

// customerOf picks customer_id out of a raw order record (JSON text, or
// as decoded).
func customerOf(raw any) string {
	var text []byte
	switch v := raw.(type) {
	case string:
		text = []byte(v)
	case []byte:
		text = v
	default:
		text, _ = json.Marshal(v)
	}
	var rec struct {
		CustomerID json.Number `json:"customer_id"`
	}
	if json.Unmarshal(text, &rec) != nil {
		return ""
	}
	return rec.CustomerID.String()
}

func not(subject string) func(string) bool  { return func(c string) bool { return c != subject } }
func only(subject string) func(string) bool { return func(c string) bool { return c == subject } }
func all(string) bool                       { return true }

// sameRows fails the test when two lists differ, naming the place.
func sameRows(t *testing.T, place string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: %d rows, want %d (or the same number, differing)", place, len(got), len(want))
	}
}

func (s snapshot) check(t *testing.T, want snapshot) {
	t.Helper()
	sameRows(t, "layer 2", s.layer2, want.layer2)
	sameRows(t, "layer 3", s.layer3, want.layer3)
	sameRows(t, "analytics archive", s.analytics, want.analytics)
	sameRows(t, "source archive", s.source, want.source)
}

// catalogText is the catalog's tables as text, to compare before and after.
func (w *world) catalogText() string {
	w.t.Helper()
	var s string
	err := w.env.Pool.QueryRow(context.Background(), `SELECT concat_ws('|',
		(SELECT string_agg(row_to_json(o)::text, ',' ORDER BY id) FROM strata.objects o),
		(SELECT string_agg(row_to_json(u)::text, ',' ORDER BY id) FROM strata.uploads u),
		(SELECT count(*) FROM strata.erasures), (SELECT count(*) FROM strata.lineage), (SELECT count(*) FROM strata.runs))`).Scan(&s)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// keyExists reports whether storage has an object under key.
func (w *world) keyExists(key string) bool {
	w.t.Helper()
	k, err := storage.ParseKey(key)
	if err != nil {
		w.t.Fatal(err)
	}
	_, err = w.svc.Store().Stat(context.Background(), k)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		w.t.Fatal(err)
	}
	return err == nil
}
