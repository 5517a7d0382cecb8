package observer

import (
	"testing"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/openlineage"
	"github.com/stratahq/strata/internal/storage"
)

// TestArchivesAreNamedAsOpenLineageNamesStorage checks the namespace and
// name of an archive folder for each storage, as
// https://openlineage.io/docs/spec/naming names local files, Azure Blob
// containers and S3 buckets.
func TestArchivesAreNamedAsOpenLineageNamesStorage(t *testing.T) {
	prefix, err := storage.ParseKey("lake")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url, ns, name, uri string
	}{
		{"file:///data/strata/", "file", "/data/strata/lake/analytics/orders", "file:///data/strata"},
		{"azblob://archive?account=acme", "wasbs://archive@acme.blob.core.windows.net", "lake/analytics/orders",
			"wasbs://archive@acme.blob.core.windows.net"},
		{"azblob://archive?account=devstoreaccount1&endpoint=http://127.0.0.1:10000/devstoreaccount1",
			"wasbs://archive@127.0.0.1:10000", "lake/analytics/orders", "wasbs://archive@127.0.0.1:10000"},
		{"s3://bucket/ignored", "s3://bucket", "lake/analytics/orders", "s3://bucket"},
	}
	for _, c := range cases {
		cfg := &config.Config{}
		cfg.Storage.URL = c.url
		o := &Observer{cfg: cfg, prefix: prefix, facets: openlineage.Facets{Producer: "test"}}
		d := o.archive("analytics", "orders")
		if d.Namespace != c.ns || d.Name != c.name {
			t.Errorf("%s: namespace %q name %q, want %q %q", c.url, d.Namespace, d.Name, c.ns, c.name)
		}
		got, ok := d.Facets["dataSource"].(*openlineage.DataSourceFacet)
		if !ok || got.Name != c.ns || got.URI != c.uri {
			t.Errorf("%s: dataSource facet %+v, want name %q uri %q", c.url, d.Facets["dataSource"], c.ns, c.uri)
		}
	}
}
