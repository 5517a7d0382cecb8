#!/usr/bin/env bash
# scripts/azurite.sh start|stop|env|status
#
# Runs Azurite's blob service (the Azure Storage emulator) for Strata's tests.
#
#   start   install azurite@3.37.0 into .tools/azurite (once), start azurite-blob on
#           127.0.0.1 on a free port with its data in .state/azurite, wait until it
#           answers, and write .state/azurite.env. Does nothing if already running.
#   stop    stop the Azurite started by `start` (SIGTERM, then SIGKILL after 10 s).
#   env     print the exports for the running Azurite:  eval "$(scripts/azurite.sh env)"
#   status  exit 0 if running, 1 if not.
#
# .tools/ and .state/ each hold a .gitignore of "*", so nothing here is ever committed.
# Works from any directory and as root. Needs node and npm (AZURITE_VERSION overrides
# the pinned version).
set -euo pipefail

AZURITE_VERSION="${AZURITE_VERSION:-3.37.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/azurite"
STATE="$ROOT/.state"
DATA="$STATE/azurite"
ENVFILE="$STATE/azurite.env"
LOG="$STATE/azurite.log"
BIN="$TOOLS/node_modules/.bin/azurite-blob"
# The well-known Azurite development account and key (public, documented by Microsoft).
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

NAME=azurite PROC=azurite PID_VAR=STRATA_TEST_AZURITE_PID PORT_VAR=STRATA_TEST_AZURITE_PORT
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"

install() {
	if [ -x "$BIN" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$TOOLS/node_modules/azurite/package.json" 2>/dev/null; then
		return 0
	fi
	command -v npm >/dev/null || die "npm not found: install Node.js >= 18 and npm (e.g. apt-get install nodejs npm)"
	ignore_dir "$ROOT/.tools"
	mkdir -p "$TOOLS"
	echo "azurite.sh: installing azurite@$AZURITE_VERSION into $TOOLS" >&2
	npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2 ||
		die "npm install azurite@$AZURITE_VERSION failed (see the npm output above)"
	[ -x "$BIN" ] || die "npm installed azurite but $BIN is missing"
}

answers() { # any HTTP answer (Azurite replies 400 to an unsigned request) means it is up
	local code
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/$ACCOUNT?comp=list" 2>/dev/null || true)"
	[ -n "$code" ] && [ "$code" != 000 ]
}

start() {
	if r="$(running)"; then
		echo "azurite.sh: already running (pid ${r% *}, port ${r#* })" >&2
		return 0
	fi
	command -v curl >/dev/null || die "curl not found (apt-get install curl)"
	install
	ignore_dir "$STATE"
	mkdir -p "$DATA"
	local port pid
	port="$(free_port)" || die "could not find a free port"
	# setsid: Azurite gets its own process group, so stop can end it and its children.
	setsid "$BIN" --blobHost 127.0.0.1 --blobPort "$port" --location "$DATA" \
		--skipApiVersionCheck --loose --silent \
		</dev/null >"$LOG" 2>&1 &
	pid=$!
	wait_up "$pid" "$port"
}

write_env() {
	local tmp="$ENVFILE.tmp"
	cat >"$tmp" <<ENV
export STRATA_TEST_AZURITE_PID=$1
export STRATA_TEST_AZURITE_PORT=$2
export STRATA_TEST_AZURITE_ENDPOINT=http://127.0.0.1:$2/$ACCOUNT
export AZURE_STORAGE_ACCOUNT=$ACCOUNT
export STRATA_TEST_AZURITE_KEY='$KEY'
ENV
	mv "$tmp" "$ENVFILE"
}

main "$@"
