package observer

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/openlineage"
	"github.com/stratahq/strata/internal/pgsource"
)

// This file names Strata's datasets the OpenLineage way
// (https://openlineage.io/docs/spec/naming): tables as
// postgres://host:port + database.schema.table, archives as the storage's
// bucket or container + the folder of a dataset's objects.

// table names a PostgreSQL table the OpenLineage way, with its columns
// when they can be read.
func (o *Observer) table(ctx context.Context, name string) openlineage.Dataset {
	ns, db := o.pgNamespace()
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = "public", name
	}
	d := openlineage.Dataset{Namespace: ns, Name: db + "." + schema + "." + table,
		Facets: map[string]any{"dataSource": o.facets.DataSource(ns, ns)}}
	rel, err := pgsource.Resolve(ctx, o.pool, name)
	if err != nil {
		return d
	}
	d.Name = db + "." + rel.Schema + "." + rel.Name
	rows, err := o.pool.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, rel.OID)
	if err != nil {
		return d
	}
	defer rows.Close()
	var fields []openlineage.SchemaField
	for rows.Next() {
		var f openlineage.SchemaField
		if rows.Scan(&f.Name, &f.Type) == nil {
			fields = append(fields, f)
		}
	}
	if rows.Err() == nil && len(fields) > 0 {
		d.Facets["schema"] = o.facets.Schema(fields)
	}
	return d
}

// archive names the archive of one type of a dataset: the storage's
// container or bucket as the namespace, the folder of the dataset's
// objects as the name (OpenLineage's naming for S3, Azure Blob and local
// files).
func (o *Observer) archive(typ, dataset string) openlineage.Dataset {
	folder := strings.Trim(strings.Join([]string{o.prefix.String(), typ, dataset}, "/"), "/")
	ns, uri := "file", "file:///"
	u, err := url.Parse(o.cfg.Storage.URL)
	if err == nil {
		switch u.Scheme {
		case "file":
			root := strings.TrimSuffix(u.Path, "/")
			folder, uri = root+"/"+folder, "file://"+root
		case "azblob":
			host := u.Query().Get("account") + ".blob.core.windows.net"
			if ep, perr := url.Parse(u.Query().Get("endpoint")); perr == nil && ep.Host != "" {
				host = ep.Host
			}
			ns = "wasbs://" + u.Host + "@" + host
			uri = ns
		default:
			ns = u.Scheme + "://" + u.Host
			uri = ns
		}
	}
	return openlineage.Dataset{Namespace: ns, Name: folder,
		Facets: map[string]any{"dataSource": o.facets.DataSource(ns, uri)}}
}

// schemaOf reads the columns of the first object of type typ from its
// catalog schema (a column list, or {"columns": [...]}).
func schemaOf(objs []catalog.Object, typ string) []openlineage.SchemaField {
	for _, obj := range objs {
		if obj.Type != typ || len(obj.Schema) == 0 {
			continue
		}
		var cols []openlineage.SchemaField
		if json.Unmarshal(obj.Schema, &cols) != nil {
			var wrapped struct {
				Columns []openlineage.SchemaField `json:"columns"`
			}
			if json.Unmarshal(obj.Schema, &wrapped) != nil {
				return nil
			}
			cols = wrapped.Columns
		}
		return cols
	}
	return nil
}

// cloneInputs and cloneOutputs copy the datasets and their facet maps, so
// that one event's output statistics never show in another's.
func cloneInputs(in []openlineage.InputDataset) []openlineage.InputDataset {
	out := make([]openlineage.InputDataset, len(in))
	for i, d := range in {
		out[i] = openlineage.InputDataset{Dataset: cloneDataset(d.Dataset)}
	}
	return out
}

func cloneOutputs(in []openlineage.OutputDataset) []openlineage.OutputDataset {
	out := make([]openlineage.OutputDataset, len(in))
	for i, d := range in {
		out[i] = openlineage.OutputDataset{Dataset: cloneDataset(d.Dataset)}
	}
	return out
}

func cloneDataset(d openlineage.Dataset) openlineage.Dataset {
	f := make(map[string]any, len(d.Facets)+1)
	for k, v := range d.Facets {
		f[k] = v
	}
	d.Facets = f
	return d
}
