// Package e2e holds Strata's end-to-end reliability tests. They run the real
// strata binary, built once per test run, against real services: a fresh
// PostgreSQL database per test (internal/pgtest) and either a local-disk
// archive or Azurite, the Azure Storage emulator. They kill the process at
// every step of the archive state machine and at random moments, run several
// archivers at once, inject storage faults, corrupt the archive and write to
// the table while it is being archived, and after each scenario check the
// invariants of docs/RELIABILITY.md against a reference copy of the table:
// no row lost, none duplicated, every committed object intact, nothing left
// behind that `strata verify --repair` does not clean, and a re-run that
// writes nothing.
//
// The package has no non-test code. Run it with the services up:
//
//	make services-up
//	set -a; source .state/test.env; set +a
//	go test ./internal/e2e/ -count=1 -v
//
// With STRATA_RELIABILITY_REPORT=FILE set, the tests also write the table of
// figures that docs/RELIABILITY.md shows (Markdown) to FILE.
package e2e
