package testenv

import (
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/demo"
)

// Dataset is one example dataset of an Env: its tables and its entry in
// the config.
type Dataset struct {
	// Name is customers, scor_metrics or orders; or, with Key set or under
	// another name, a dataset over tables of the test's own that New
	// neither creates nor fills.
	Name string
	// Key and TimeColumn are the analytics key and time column of a table
	// of the test's own named Name; without them, a dataset that is not an
	// example has no analytics: section.
	Key, TimeColumn string
	// SourceTable is source.table ("" is source_<Name>).
	SourceTable string
	// Days of Layer 2 rows are made, the newest today, PerDay rows each
	// (0: the example's number); no days leaves the table empty.
	Days, PerDay int
	// Source adds the Layer 3 table source_<Name> and a source: section.
	Source bool
	// Transform is where the example transform of Name is written,
	// relative to the config's folder, and the dataset's transform: (""
	// none); also for a dataset over tables of the test's own.
	Transform string
	// Retention is analytics.retention ("" is 90d).
	Retention string
	// SourceRetention, BatchMaxRows, BatchMaxWait and OnTransformError set
	// the source: keys of those names when not zero.
	SourceRetention  string
	BatchMaxRows     int
	BatchMaxWait     string
	OnTransformError string
	// SourceExtra is more YAML under source:, Extra more under the
	// dataset, one key a line, not indented.
	SourceExtra, Extra string
}

// renderConfig writes the config's YAML.
func renderConfig(dbURL, storageURL string, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "database:\n  url: %q\nstorage:\n  url: %q\n", dbURL, storageURL)
	if o.Prefix != "" {
		fmt.Fprintf(&b, "  prefix: %s\n", o.Prefix)
	}
	if o.Extra != "" {
		b.WriteString(strings.TrimRight(o.Extra, "\n") + "\n")
	}
	b.WriteString("datasets:\n")
	for _, ds := range o.Datasets {
		renderDataset(&b, ds)
	}
	return b.String()
}

func renderDataset(b *strings.Builder, ds Dataset) {
	d, ok := exampleOf(ds.Name)
	if ds.Key != "" || !ok {
		d = demo.Dataset{Name: ds.Name, Table: ds.Name, Key: ds.Key, TimeColumn: ds.TimeColumn}
	}
	fmt.Fprintf(b, "  - name: %s\n", ds.Name)
	if ds.Source {
		table := ds.SourceTable
		if table == "" {
			table = demo.SourceTable(d)
		}
		fmt.Fprintf(b, "    source:\n      table: %s\n      id_column: raw_id\n      time_column: ingested_at\n", table)
		key(b, "retention", ds.SourceRetention)
		if ds.BatchMaxRows > 0 {
			key(b, "batch_max_rows", fmt.Sprint(ds.BatchMaxRows))
		}
		key(b, "batch_max_wait", ds.BatchMaxWait)
		key(b, "on_transform_error", ds.OnTransformError)
		indent(b, ds.SourceExtra, "      ")
	}
	if d.Key != "" {
		retention := ds.Retention
		if retention == "" {
			retention = "90d"
		}
		fmt.Fprintf(b, "    analytics:\n      table: %s\n      key: [%s]\n      time_column: %s\n      retention: %s\n",
			d.Table, d.Key, d.TimeColumn, retention)
	}
	if ds.Transform != "" {
		fmt.Fprintf(b, "    transform: %s\n", ds.Transform)
	}
	indent(b, ds.Extra, "    ")
}

// key writes a source: key when v is not empty.
func key(b *strings.Builder, k, v string) {
	if v != "" {
		fmt.Fprintf(b, "      %s: %s\n", k, v)
	}
}

// indent writes the lines of text, each after prefix.
func indent(b *strings.Builder, text, prefix string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if l != "" {
			b.WriteString(prefix + l + "\n")
		}
	}
}
