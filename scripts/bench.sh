#!/usr/bin/env bash
# `make bench`: measures `strata archive` against PostgreSQL's binary COPY
# ceiling on a generated table, on a throwaway PostgreSQL in .state/bench
# (started and stopped by internal/bench), then runs the Parquet writer's Go
# micro-benchmarks. docs/BENCHMARKS.md explains the figures.
#
#   scripts/bench.sh                      # 5,000,000 rows, 3 runs each
#   BENCH_ROWS=1000000 BENCH_REPS=1 scripts/bench.sh
#   BENCH_FLAGS="-profile /tmp/archive.pprof" scripts/bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[[ -x bin/strata ]] || go build -o bin/strata ./cmd/strata

# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
go run ./internal/bench -strata bin/strata -state .state/bench \
  -rows "${BENCH_ROWS:-5000000}" -reps "${BENCH_REPS:-3}" ${BENCH_FLAGS:-}

echo
echo "==> Go micro-benchmarks: go test -run '^\$' -bench . -benchtime ${BENCH_TIME:-2s} ./internal/parquetio/"
go test -run '^$' -bench . -benchtime "${BENCH_TIME:-2s}" ./internal/parquetio/
