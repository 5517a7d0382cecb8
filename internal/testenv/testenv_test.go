package testenv_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
	"github.com/stratahq/strata/transforms"
)

func TestNewMakesTheTablesAndAConfigThatSaysWhatWasAsked(t *testing.T) {
	e := testenv.New(t, testenv.Options{Prefix: "svc", Extra: "log:\n  level: debug", Datasets: []testenv.Dataset{
		{Name: "orders", Days: 3, PerDay: 7, Source: true, Transform: "t/orders.sql", Retention: "1d",
			BatchMaxRows: 50, BatchMaxWait: "immediate", OnTransformError: "quarantine"},
		{Name: "customers"},
		{Name: "own", Key: "id", TimeColumn: "at", Extra: "archive:\n  row_group_rows: 3"},
		{Name: "events", Source: true, SourceTable: "raw_events"},
	}})
	if n := e.Count(`SELECT count(*) FROM orders`); n != 3*7 {
		t.Errorf("orders has %d rows, want 3 days of 7", n)
	}
	if n := e.Count(`SELECT count(*) FROM customers`) + e.Count(`SELECT count(*) FROM source_orders`); n != 0 {
		t.Errorf("customers and source_orders hold %d rows, want none", n)
	}
	if n := e.Count(`SELECT count(*) FROM pg_tables WHERE tablename IN ('own', 'events', 'raw_events', 'source_customers')`); n != 0 {
		t.Errorf("%d tables made for datasets that are not examples or have no source, want none", n)
	}
	want, _ := transforms.FS.ReadFile("orders.sql")
	if got, err := os.ReadFile(filepath.Join(e.Dir, "t", "orders.sql")); err != nil || string(got) != string(want) {
		t.Errorf("the transform file is not the example's (%v)", err)
	}
	cfg := e.Config()
	if cfg.Storage.Prefix != "svc" || cfg.Log.Level != "debug" || len(cfg.Datasets) != 4 || e.Vars["STRATA_CONFIG"] != e.ConfigPath {
		t.Fatalf("config: prefix %q, log level %q, %d datasets, STRATA_CONFIG %q", cfg.Storage.Prefix, cfg.Log.Level, len(cfg.Datasets), e.Vars["STRATA_CONFIG"])
	}
	o := cfg.Datasets[0]
	if o.Source == nil || o.Source.Table.Name != "source_orders" || o.Source.BatchMaxRows != 50 || o.Source.OnTransformError != "quarantine" ||
		o.Analytics == nil || o.Analytics.Table.Name != "orders" || o.Analytics.TimeColumn != "ordered_at" || cfg.TransformPath(&o) != filepath.Join(e.Dir, "t", "orders.sql") {
		t.Errorf("orders as loaded: %+v", o)
	}
	if own := cfg.Datasets[2]; own.Analytics == nil || own.Analytics.Table.Name != "own" || own.Archive.RowGroupRows != 3 {
		t.Errorf("own as loaded: %+v", own)
	}
	if ev := cfg.Datasets[3]; ev.Analytics != nil || ev.Source == nil || ev.Source.Table.Name != "raw_events" {
		t.Errorf("events as loaded: %+v", ev)
	}
}

func TestAServiceOnEachKindOfStorageIsHealthyAndItsArchiveEmpty(t *testing.T) {
	for _, kind := range testenv.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			e := testenv.New(t, testenv.Options{Storage: kind, Datasets: []testenv.Dataset{{Name: "scor_metrics"}}})
			if (kind == testenv.Local) != (e.ArchiveDir != "") || (kind == testenv.Azurite) != (e.Vars["AZURE_STORAGE_KEY"] != "") ||
				(kind == testenv.S3) != (e.Vars["AWS_ACCESS_KEY_ID"] != "") {
				t.Errorf("%s: archive folder %q, Azure key set %t, AWS key set %t", kind, e.ArchiveDir, e.Vars["AZURE_STORAGE_KEY"] != "", e.Vars["AWS_ACCESS_KEY_ID"] != "")
			}
			svc := testsvc.Open(t, e, strata.Options{})
			if err := svc.Health(context.Background()); err != nil {
				t.Fatalf("%s at %s: %v", kind, e.StorageURL, err)
			}
			n := 0
			if err := svc.Store().List(context.Background(), storage.Key{}, func(storage.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
				t.Errorf("%s: %d objects in a new archive (%v)", kind, n, err)
			}
		})
	}
}
