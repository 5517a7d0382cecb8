#!/usr/bin/env bash
# Starts and stops the services the test suite needs: a throwaway PostgreSQL 15
# (run as the postgres user when we are root), Azurite, the Azure Storage
# emulator (installed from the npm registry into .tools/), and versitygw, an
# S3 server (built with `go install` into .tools/). Their settings are written
# to .state/test.env as shell exports. It also makes sure Debian's chromium is
# installed (scripts/chromium.sh, apt-get when missing) for the console's
# browser test.
#
#   scripts/services.sh start   # start all three, write .state/test.env
#   scripts/services.sh stop    # stop them
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state="$root/.state"
mkdir -p "$state"

case "${1:-}" in
start)
  go build -o bin/strata ./cmd/strata
  bin/strata demo up --state "$state/test" >"$state/pg.env"
  scripts/azurite.sh start
  scripts/versitygw.sh start
  scripts/chromium.sh || echo "services.sh: no chromium: the console's browser test will skip (or fail under CI)" >&2
  {
    sed -e 's/STRATA_DATABASE_URL/STRATA_TEST_DATABASE_URL/' -e 's#/strata_demo?#/postgres?#' "$state/pg.env"
    cat "$state/azurite.env"
    cat "$state/versitygw.env"
    # DuckDB for the tests that read archives and lakehouse tables as an
    # engine would (installed once, cached in .tools/duckdb); without it
    # those tests skip (fail under CI).
    if duckdb=$(scripts/duckdb/install.sh); then
      echo "export STRATA_TEST_DUCKDB=$duckdb"
    else
      echo "services.sh: DuckDB not installed; tests that need it will skip" >&2
    fi
  } >"$state/test.env"
  echo "services up; settings in .state/test.env"
  ;;
stop)
  bin/strata demo down --state "$state/test" 2>/dev/null || true
  scripts/azurite.sh stop || true
  scripts/versitygw.sh stop || true
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
