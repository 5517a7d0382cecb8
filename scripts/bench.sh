#!/usr/bin/env bash
# `make bench`: measures `strata archive` against PostgreSQL's binary COPY
# ceiling on a generated table, `strata ingest`, retrieval (Go API, CLI and
# live rows, next to DuckDB reading the same Parquet files), the HTTP API
# under load, and strata compare and replay (lineage), on a throwaway
# PostgreSQL in .state/bench (started and stopped by internal/bench), then
# runs the Parquet writer's Go micro-benchmarks.
# docs/BENCHMARKS.md explains the figures.
#
#   scripts/bench.sh                      # 5,000,000 rows, 3 runs each
#   BENCH_ROWS=1000000 BENCH_REPS=1 scripts/bench.sh
#   BENCH_FLAGS="-only retrieve,http -retr-days 20" scripts/bench.sh
#   BENCH_FLAGS="-only lineage -lineage-records 300000" scripts/bench.sh
#   BENCH_FLAGS="-only audit -retr-days 17 -retr-day-rows 50000" scripts/bench.sh
#   BENCH_FLAGS="-profile /tmp/archive.pprof -retr-profile /tmp/retrieve.pprof" scripts/bench.sh
#   BENCH_FLAGS="-only interleaved -il-parallelism 1,2,4 -il-profile /tmp/il.pprof" scripts/bench.sh
#
# DuckDB (@duckdb/node-api, pinned in scripts/duckdb/) is installed into
# .tools/duckdb with npm on the first run; if that fails, the benchmark
# still runs and reports DuckDB as "not measured" with the reason.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Built each time (the build cache makes that quick), so the figures are
# the working tree's; bin/strata-noaudit records nothing (-tags
# strata_noaudit), for the audit section's with/without comparison.
go build -o bin/strata ./cmd/strata
go build -tags strata_noaudit -o bin/strata-noaudit ./cmd/strata

mkdir -p .state
duckdb=(-duckdb-script scripts/duckdb/bench.mjs)
if dir=$(scripts/duckdb/install.sh 2>.state/duckdb-install.log); then
	duckdb+=(-duckdb "$dir")
else
	why=$(grep -v '^\s*$' .state/duckdb-install.log | tail -1)
	echo "==> DuckDB not installed: ${why:-scripts/duckdb/install.sh failed} (full output in .state/duckdb-install.log)"
	duckdb+=(-duckdb-missing "scripts/duckdb/install.sh failed: ${why:-see .state/duckdb-install.log}")
fi

# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
go run ./internal/bench -strata bin/strata -strata-noaudit bin/strata-noaudit -state .state/bench \
  -rows "${BENCH_ROWS:-5000000}" -reps "${BENCH_REPS:-3}" "${duckdb[@]}" ${BENCH_FLAGS:-}

echo
echo "==> Go micro-benchmarks: go test -run '^\$' -bench . -benchtime ${BENCH_TIME:-2s} ./internal/parquetio/"
go test -run '^$' -bench . -benchtime "${BENCH_TIME:-2s}" ./internal/parquetio/
