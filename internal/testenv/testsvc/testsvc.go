// Package testsvc opens a strata.Service on a testenv.Env. It is apart from
// testenv because it imports the root package, which the root package's own
// (package strata) tests cannot.
package testsvc

import (
	"context"
	"path/filepath"
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
