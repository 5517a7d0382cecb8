package iceberg

import (
	"context"

	"github.com/apache/iceberg-go/table"
)

// WithTable calls fn with the table as iceberg-go loads it from the
// catalog, its file system the Format's storage while fn runs.
func (f *Format) WithTable(ctx context.Context, dataset, typ string, fn func(*table.Table) error) error {
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.release()
	tbl, err := s.cat.LoadTable(ctx, ident(dataset, typ))
	if err != nil {
		return err
	}
	return fn(tbl)
}
