package cli_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
)

func TestArchiveToAzuriteWritesTheSpecsPathsAndRetrieveReadsThemBack(t *testing.T) {
	storeURL, env := archiveStorage(t, "azurite")
	dbURL, pool := pgtest.NewDB(t)
	ds := demo.Datasets[1] // scor_metrics
	ds.PerDay = 50
	if err := demo.Create(context.Background(), pool, ds, 95); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "strata.yaml")
	yaml := fmt.Sprintf(`database:
  url: %s
storage:
  url: %s
  prefix: analytics_service
datasets:
  - name: scor_metrics
    analytics:
      table: scor_metrics
      key: [metric_id]
      time_column: timestamp
      retention: 90d
`, dbURL, storeURL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env["STRATA_CONFIG"] = cfg

	r := run(t, env, "archive")
	if r.code != 0 {
		t.Fatalf("archive to Azurite: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	u, _ := url.Parse(storeURL)
	be, err := azblob.Open(context.Background(), u, func(k string) string { return env[k] }, azblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	layout := regexp.MustCompile(`^analytics_service/analytics/scor_metrics/\d{4}/\d{2}/\d{2}/chunk_\d+\.parquet$`)
	var keys []string
	err = be.List(context.Background(), storage.Key{}, func(info storage.ObjectInfo) error {
		keys = append(keys, info.Key.String())
		if !layout.MatchString(info.Key.String()) {
			t.Errorf("object %s does not follow {prefix}/analytics/{dataset}/{YYYY}/{MM}/{DD}/chunk_{id}.parquet", info.Key)
		}
		return nil
	})
	if err != nil || len(keys) != 4 {
		t.Fatalf("listed %d objects (err %v), want 4 (days 91..94 ago)", len(keys), err)
	}
	r = run(t, env, "retrieve", "-d", "scor_metrics", "--from", "2000-01-01", "--to", "2100-01-01", "--columns", "metric_id,value,timestamp,process_id")
	if n := strings.Count(r.stdout, "\n"); r.code != 0 || n != 4*50 {
		t.Fatalf("retrieve from Azurite: exit %d, %d rows, want 200\n%s", r.code, n, r.stderr)
	}
	if r := run(t, env, "verify", "--deep"); r.code != 0 {
		t.Fatalf("verify --deep on Azurite: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
