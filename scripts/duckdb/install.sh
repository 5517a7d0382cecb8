#!/usr/bin/env bash
# scripts/duckdb/install.sh: installs the DuckDB that `make bench` compares
# retrieval with (@duckdb/node-api, pinned with its prebuilt bindings in
# package.json and package-lock.json next to this script) into .tools/duckdb,
# once, with `npm ci`. Prints the folder to pass as `-duckdb` to
# internal/bench. Exits 1, saying why on standard error, when node or npm is
# missing or the install fails; the benchmark then reports DuckDB as not
# measured instead of failing.
#
# .tools/ holds a .gitignore of "*", so nothing installed is ever committed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="$root/.tools/duckdb"
version="$(sed -n 's/.*"@duckdb\/node-api": "\([^"]*\)".*/\1/p' "$here/package.json")"

die() { echo "duckdb/install.sh: $*" >&2; exit 1; }

installed() {
	grep -q "\"version\": \"$version\"" "$tools/node_modules/@duckdb/node-api/package.json" 2>/dev/null &&
		cmp -s "$here/package-lock.json" "$tools/package-lock.json"
}

if ! installed; then
	command -v node >/dev/null || die "node not found: install Node.js >= 18 and npm"
	command -v npm >/dev/null || die "npm not found: install npm"
	mkdir -p "$root/.tools"
	[ -f "$root/.tools/.gitignore" ] || printf '*\n' >"$root/.tools/.gitignore"
	mkdir -p "$tools"
	cp "$here/package.json" "$here/package-lock.json" "$tools/"
	echo "duckdb/install.sh: installing @duckdb/node-api@$version into $tools" >&2
	npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >&2 ||
		die "npm ci of @duckdb/node-api@$version failed (see the npm output above)"
	installed || die "npm ci finished but @duckdb/node-api@$version is not in $tools/node_modules"
fi
echo "$tools"
