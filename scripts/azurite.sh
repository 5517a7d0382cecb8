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

die() { echo "azurite.sh: $*" >&2; exit 1; }

ignore_dir() { # make a folder that git ignores whatever the repo's .gitignore says
	mkdir -p "$1"
	[ -f "$1/.gitignore" ] || printf '*\n' >"$1/.gitignore"
}

# running prints the pid and port of a live Azurite started by this script.
running() {
	[ -f "$ENVFILE" ] || return 1
	local pid port
	pid="$(sed -n 's/^export STRATA_TEST_AZURITE_PID=//p' "$ENVFILE")"
	port="$(sed -n 's/^export STRATA_TEST_AZURITE_PORT=//p' "$ENVFILE")"
	[ -n "$pid" ] && [ -n "$port" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against pid reuse: the process must still be azurite.
	grep -q azurite "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid $port"
}

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

free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
	else
		node -e 'const s=require("net").createServer(); s.listen(0,"127.0.0.1",()=>{console.log(s.address().port); s.close()})'
	fi
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
	local port pid i
	port="$(free_port)" || die "could not find a free port"
	# setsid: Azurite gets its own process group, so stop can end it and its children.
	setsid "$BIN" --blobHost 127.0.0.1 --blobPort "$port" --location "$DATA" \
		--skipApiVersionCheck --loose --silent \
		</dev/null >"$LOG" 2>&1 &
	pid=$!
	for i in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			die "azurite exited during start-up; its log ($LOG):
$(tail -n 20 "$LOG")"
		fi
		if answers "$port"; then
			write_env "$pid" "$port"
			echo "azurite.sh: started (pid $pid, port $port); eval \"\$(scripts/azurite.sh env)\"" >&2
			return 0
		fi
		sleep 0.2
	done
	kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	die "azurite did not answer on 127.0.0.1:$port within 30 s; its log ($LOG):
$(tail -n 20 "$LOG")"
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

stop() {
	local r pid i
	if ! r="$(running)"; then
		rm -f "$ENVFILE"
		echo "azurite.sh: not running" >&2
		return 0
	fi
	pid="${r% *}"
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$ENVFILE"
	echo "azurite.sh: stopped (pid $pid)" >&2
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env)
	running >/dev/null || die "not running: run scripts/azurite.sh start"
	cat "$ENVFILE"
	;;
status) running >/dev/null ;;
*)
	echo "usage: scripts/azurite.sh start|stop|env|status" >&2
	exit 2
	;;
esac
