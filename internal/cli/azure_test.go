package cli_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
	"github.com/stratahq/strata/internal/testenv"
)

func TestArchiveToAzuriteWritesTheSpecsPathsAndRetrieveReadsThemBack(t *testing.T) {
	e := testenv.New(t, testenv.Options{Storage: testenv.Azurite, Prefix: "analytics_service",
		Datasets: []testenv.Dataset{{Name: "scor_metrics", Days: 95, PerDay: 50}}})
	storeURL, env := e.StorageURL, e.Vars

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
	anchor := regexp.MustCompile(`^analytics_service/audit/anchor_\d{20}\.json$`)                        // the audit chain's head, at the archive run
	deltaLog := regexp.MustCompile(`^analytics_service/analytics/scor_metrics/_delta_log/\d{20}\.json$`) // the Delta table's commit
	icebergMeta := regexp.MustCompile(`^analytics_service/analytics/scor_metrics/_iceberg/metadata/[0-9a-z.-]+\.(metadata\.json|avro)$`)
	var keys, anchors, commits, iceberg []string
	err = be.List(context.Background(), storage.Key{}, func(info storage.ObjectInfo) error {
		if anchor.MatchString(info.Key.String()) {
			anchors = append(anchors, info.Key.String())
			return nil
		}
		if deltaLog.MatchString(info.Key.String()) {
			commits = append(commits, info.Key.String())
			return nil
		}
		if icebergMeta.MatchString(info.Key.String()) {
			iceberg = append(iceberg, info.Key.String())
			return nil
		}
		keys = append(keys, info.Key.String())
		if !layout.MatchString(info.Key.String()) {
			t.Errorf("object %s does not follow {prefix}/analytics/{dataset}/{YYYY}/{MM}/{DD}/chunk_{id}.parquet", info.Key)
		}
		return nil
	})
	// The Iceberg table: its creation's metadata.json, then the publish's
	// manifest, manifest list and metadata.json.
	if err != nil || len(keys) != 4 || len(anchors) != 1 || len(commits) != 1 || len(iceberg) != 4 {
		t.Fatalf("listed %d objects, %d anchors, %d Delta commits and %d Iceberg metadata files (err %v), want 4 (days 91..94 ago), 1, 1 and 4",
			len(keys), len(anchors), len(commits), len(iceberg), err)
	}
	r = run(t, env, "retrieve", "-d", "scor_metrics", "--from", "2000-01-01", "--to", "2100-01-01", "--columns", "metric_id,value,timestamp,process_id")
	if n := strings.Count(r.stdout, "\n"); r.code != 0 || n != 4*50 {
		t.Fatalf("retrieve from Azurite: exit %d, %d rows, want 200\n%s", r.code, n, r.stderr)
	}
	if r := run(t, env, "verify", "--deep"); r.code != 0 {
		t.Fatalf("verify --deep on Azurite: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
