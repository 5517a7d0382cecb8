#!/usr/bin/env bash
# Interleaved A/B timing of `strata compare` by two strata binaries, for a
# change whose effect is smaller than the noise of a shared machine (the
# lineage section of `make bench` runs each binary's cases minutes apart).
#
#   scripts/compare_ab.sh OLD_BIN NEW_BIN RECORDS_FILE [ROUNDS]
#
# Needs STRATA_TEST_DATABASE_URL (scripts/services.sh start; source
# .state/test.env). Creates the databases strata_ab_old and strata_ab_new
# there, each with the orders example (Layer 3, Layer 2, a file:// archive
# under .state/ab), ingests RECORDS_FILE (JSON lines, e.g. the lineage
# section's .state/bench/lineage-1k.jsonl) with each binary, then runs
# `strata compare` over today with OLD and NEW alternately, ROUNDS times
# each (default 10), and prints every wall time and each binary's minimum
# and median. Both compares must agree (exit 0).
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") records=$(realpath "$3") rounds=${4:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${STRATA_TEST_DATABASE_URL:?source .state/test.env first}"
base=${STRATA_TEST_DATABASE_URL%%\?*}
base=${base%/*}
state=.state/ab
rm -rf "$state" && mkdir -p "$state"
setup() { # name binary
	local db=strata_ab_$1
	psql -q "$STRATA_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
	psql -q "$base/$db" <<'SQL'
CREATE TABLE orders (order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
	total numeric(12,2) NOT NULL, currency char(3) NOT NULL, items integer NOT NULL,
	ordered_at timestamptz NOT NULL, shipped_on date);
CREATE TABLE source_orders (raw_id bigserial PRIMARY KEY, raw_data json NOT NULL,
	ingested_at timestamptz NOT NULL DEFAULT now(), processed boolean NOT NULL DEFAULT false);
SQL
	cat >"$state/$1.yaml" <<YAML
database:
  url: $base/$db
storage:
  url: file://$root/$state/archive-$1
log:
  level: warn
datasets:
  - name: orders
    source:
      table: source_orders
      id_column: raw_id
      time_column: ingested_at
      payload_column: raw_data
    analytics:
      table: orders
      key: [order_id]
      time_column: ordered_at
    transform: $root/transforms/orders.sql
YAML
	"$2" ingest --config "$state/$1.yaml" --dataset orders "$records" >/dev/null
	psql -q "$base/$db" -c "VACUUM ANALYZE orders" -c "VACUUM ANALYZE source_orders"
}
setup old "$old"
setup new "$new"
day=$(date -u +%F)
declare -A times
for i in $(seq "$rounds"); do
	for v in old new; do
		bin=$old
		[[ $v == new ]] && bin=$new
		t0=$(date +%s.%N)
		"$bin" compare --config "$state/$v.yaml" --dataset orders --from "$day" --to "$day" >/dev/null
		t=$(echo "$(date +%s.%N) - $t0" | bc)
		times[$v]+="$t "
		printf 'round %2d %s %.3f s\n' "$i" "$v" "$t"
	done
done
for v in old new; do
	# shellcheck disable=SC2086 # a list of numbers
	printf '%s: min %s s, median %s s over %s runs\n' "$v" \
		"$(printf '%s\n' ${times[$v]} | sort -n | head -1)" \
		"$(printf '%s\n' ${times[$v]} | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')" "$rounds"
done
