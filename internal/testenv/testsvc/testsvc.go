// Package testsvc opens a strata.Service on a testenv.Env. It is apart from
// testenv because it imports the root package, which the root package's own
// (package strata) tests cannot.
package testsvc

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/testenv"
)

// Open opens a Service on e, closed when the test ends. Fields of o left
// zero are filled: Config (e's), Getenv (e.Getenv) and SpoolDir (a folder
// of the test's).
func Open(t testing.TB, e *testenv.Env, o strata.Options) *strata.Service {
	t.Helper()
	if o.Config == nil {
		o.Config = e.Config()
	}
	if o.Getenv == nil {
		o.Getenv = e.Getenv
	}
	if o.SpoolDir == "" {
		o.SpoolDir = filepath.Join(t.TempDir(), "spool")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := strata.Open(ctx, o)
	if err != nil {
		t.Fatalf("open the service: %v", err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// Retrieved is what strata retrieve returns for req, one line a row
// rendered by testenv.TextRow (the columns named in dates as dates),
// sorted: the rows to compare with what an engine reads of the archive
// (testenv.TextRows of DuckDB's). req.Start and req.End, when zero, are a
// year ago and tomorrow: the whole archive of a test.
func Retrieved(t testing.TB, svc *strata.Service, req strata.RetrieveRequest, dates map[string]bool) []string {
	t.Helper()
	if req.Start.IsZero() {
		req.Start = time.Now().AddDate(-1, 0, 0)
	}
	if req.End.IsZero() {
		req.End = time.Now().AddDate(0, 0, 1)
	}
	isDate := make([]bool, len(req.Columns))
	for i, c := range req.Columns {
		isDate[i] = dates[c]
	}
	rows, err := svc.RetrieveArchivedData(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		out = append(out, testenv.TextRow(rows.Values(), isDate))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
