package server

import (
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/evidence"
)

func TestTheLineageGraphMarksBrokenLinks(t *testing.T) {
	v1, v2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	rep := &evidence.Report{
		Source: evidence.Source{Objects: []evidence.Object{{Key: "p/source/ds/2024/11/01/source_batch_1.parquet", Day: "2024-11-01", Rows: 3}}},
		Batches: []evidence.Batch{
			{ID: 1, Kind: "ingest", Layer3Rows: 3, SourceObjectRows: 3, TransformVersion: v1,
				SourceObjects: []string{"p/source/ds/2024/11/01/source_batch_1.parquet"}},
			{ID: 2, Kind: "ingest", Layer3Rows: 5, SourceObjectRows: 4, TransformVersion: v1, // its object holds 4 of its 5 rows
				SourceObjects: []string{"p/source/ds/2024/11/01/source_batch_9.parquet"}}, // not among the period's objects
		},
		Transforms: []evidence.Transform{{Version: v1, Recorded: true}},
		Analytics: evidence.Analytics{Objects: []evidence.Object{
			{Key: "p/analytics/ds/2024/11/01/chunk_3.parquet", Day: "2024-11-01", TransformVersion: v1},
			{Key: "p/analytics/ds/2024/11/02/chunk_4.parquet", Day: "2024-11-02", TransformVersion: v2}, // a version the report lacks
		}},
	}
	svg := string(lineageGraph(rep))
	for _, want := range []string{
		`source objects (2)`, `batches (2)`, `transform versions (2)`, `analytics objects (2)`,
		`source_batch_9.parquet: named by a batch, not among the period&#39;s objects`,
		`transform ` + v2 + `: not in the report&#39;s versions`,
		`ingest batch 2 at`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the graph lacks %q", want)
		}
	}
	if n := strings.Count(svg, `class="node broken"`); n != 3 {
		t.Errorf("%d broken nodes, want 3 (the missing object, the short batch, the unknown version):\n%s", n, svg)
	}
	if n := strings.Count(svg, `class="edge broken"`); n != 3 {
		t.Errorf("%d broken edges, want 3 (missing object -> batch 2 -> v1, unknown version -> chunk_4):\n%s", n, svg)
	}
	if n := strings.Count(svg, `class="edge"`); n != 3 {
		t.Errorf("%d sound edges, want 3 (object -> batch 1, batches -> v1, v1 -> chunk_3)", n)
	}
}
