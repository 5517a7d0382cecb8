package evidence

import (
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/catalog"
)

// report is a chain of one ingest batch of records rows held in a source
// object of objectRows rows, archived by one analytics job of archived
// rows into an object of analyticsRows rows.
func report(records, objectRows, archived, analyticsRows int64) *Report {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sum := strings.Repeat("ab", 32)
	return &Report{
		Source: Source{Objects: []Object{{Key: "source/orders/1.parquet", Type: catalog.TypeSource,
			State: catalog.StateCommitted, Rows: objectRows, SHA256: sum}}},
		Analytics: Analytics{Objects: []Object{{Key: "analytics/orders/2.parquet", Type: catalog.TypeAnalytics,
			State: catalog.StateCommitted, Rows: analyticsRows, SHA256: sum}}},
		Batches: []Batch{
			{ID: 1, At: at, Kind: catalog.LineageIngest, InPeriod: true, Layer3Rows: records, Layer2RowsWritten: records,
				SourceObjects: []string{"source/orders/1.parquet"}, SourceObjectRows: objectRows},
			{ID: 2, At: at.Add(time.Hour), Kind: catalog.LineageAnalyticsArchive, InPeriod: true, RowsArchived: archived,
				AnalyticsObjects: []string{"analytics/orders/2.parquet"}},
		},
	}
}

// TestCheckFindsCountsThatContradictTheObjects checks the verdict of a
// chain whose counts add up, and of chains whose batches claim more rows
// than their objects hold.
func TestCheckFindsCountsThatContradictTheObjects(t *testing.T) {
	ok := report(3, 3, 3, 3)
	ok.check()
	if !ok.Integrity.OK || len(ok.Integrity.Problems) != 0 || !strings.HasSuffix(ok.Integrity.Statement, "every count adds up.") {
		t.Fatalf("a consistent chain: %+v", ok.Integrity)
	}
	if ok.Totals.RecordsIn != 3 || ok.Totals.IntakeBatches != 1 || ok.Totals.AnalyticsRows != 3 || ok.Totals.ChecksumsRecorded != 2 {
		t.Errorf("totals %+v", ok.Totals)
	}
	for _, c := range []struct {
		rep  *Report
		want string
	}{
		{report(3, 2, 3, 3), "took in 3 records but its source objects hold 2 rows"},
		{report(3, 3, 3, 2), "archived 3 rows but its objects hold 2"},
	} {
		c.rep.check()
		in := c.rep.Integrity
		if in.OK || len(in.Problems) != 1 || !strings.Contains(in.Problems[0], c.want) ||
			!strings.HasSuffix(in.Statement, "1 problem(s) found.") {
			t.Errorf("want the problem %q, got %+v", c.want, in)
		}
	}
}
