#!/usr/bin/env bash
# scripts/versitygw.sh start|stop|env|status
#
# Runs versitygw (Apache-2.0), an S3 server with create-only puts, versioning and
# Object Lock, on a posix folder for Strata's tests.
#
#   start   install versitygw v1.7.0 into .tools/versitygw (once: `go install`), start
#           it on 127.0.0.1 on a free port with its buckets in .state/versitygw/data
#           and versioning enabled (.state/versitygw/versions), wait until it answers,
#           and write .state/versitygw.env. Does nothing if already running.
#   stop    stop the versitygw started by `start` (SIGTERM, then SIGKILL after 10 s).
#   env     print the exports for the running server:  eval "$(scripts/versitygw.sh env)"
#   status  exit 0 if running, 1 if not.
#
# The credentials are fixed test values. Tests create a bucket of their own each.
# .tools/ and .state/ each hold a .gitignore of "*", so nothing here is ever committed.
# Works from any directory. Needs go (VERSITYGW_VERSION overrides the pinned version).
set -euo pipefail

VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.7.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/versitygw"
BIN="$TOOLS/versitygw"
STAMP="$TOOLS/version"
STATE="$ROOT/.state"
HOME_DIR="$STATE/versitygw"
ENVFILE="$STATE/versitygw.env"
LOG="$STATE/versitygw.log"
ACCESS=strata-test-access
SECRET=strata-test-secret-key-not-a-real-one
REGION=us-east-1

die() { echo "versitygw.sh: $*" >&2; exit 1; }

ignore_dir() { # make a folder that git ignores whatever the repo's .gitignore says
	mkdir -p "$1"
	[ -f "$1/.gitignore" ] || printf '*\n' >"$1/.gitignore"
}

# running prints the pid and port of a live versitygw started by this script.
running() {
	[ -f "$ENVFILE" ] || return 1
	local pid port
	pid="$(sed -n 's/^export STRATA_TEST_S3_PID=//p' "$ENVFILE")"
	port="$(sed -n 's/^export STRATA_TEST_S3_PORT=//p' "$ENVFILE")"
	[ -n "$pid" ] && [ -n "$port" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against pid reuse: the process must still be versitygw.
	grep -q versitygw "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid $port"
}

install() {
	if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
		return 0
	fi
	command -v go >/dev/null || die "go not found: install Go to build versitygw"
	ignore_dir "$ROOT/.tools"
	mkdir -p "$TOOLS"
	echo "versitygw.sh: installing versitygw@$VERSITYGW_VERSION into $TOOLS (one-off build)" >&2
	GOBIN="$TOOLS" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2 ||
		die "go install versitygw@$VERSITYGW_VERSION failed (see the output above)"
	[ -x "$BIN" ] || die "go install succeeded but $BIN is missing"
	echo "$VERSITYGW_VERSION" >"$STAMP"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() { # any HTTP answer (403 to an unsigned request) means it is up
	local code
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null || true)"
	[ -n "$code" ] && [ "$code" != 000 ]
}

start() {
	if r="$(running)"; then
		echo "versitygw.sh: already running (pid ${r% *}, port ${r#* })" >&2
		return 0
	fi
	command -v curl >/dev/null || die "curl not found (apt-get install curl)"
	command -v python3 >/dev/null || die "python3 not found (needed to pick a free port)"
	install
	ignore_dir "$STATE"
	mkdir -p "$HOME_DIR/data" "$HOME_DIR/versions"
	local port pid i
	port="$(free_port)" || die "could not find a free port"
	# Object metadata lives in user xattrs. versitygw's --sidecar alternative
	# keeps a deleted object's metadata (v1.7.0), so a create-only put to the
	# key is then refused: that would break Strata's delete-then-rewrite.
	python3 -c 'import os,sys,tempfile; f=tempfile.NamedTemporaryFile(dir=sys.argv[1]); os.setxattr(f.name, "user.strata_probe", b"1")' "$HOME_DIR" 2>/dev/null ||
		die "the filesystem of $HOME_DIR does not support user xattrs, which versitygw's posix backend needs"
	# setsid: its own process group, so stop can end it and its children.
	ROOT_ACCESS_KEY_ID="$ACCESS" ROOT_SECRET_ACCESS_KEY="$SECRET" setsid "$BIN" \
		--port "127.0.0.1:$port" --region "$REGION" --quiet \
		posix --versioning-dir "$HOME_DIR/versions" "$HOME_DIR/data" \
		</dev/null >"$LOG" 2>&1 &
	pid=$!
	for i in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			die "versitygw exited during start-up; its log ($LOG):
$(tail -n 20 "$LOG")"
		fi
		if answers "$port"; then
			write_env "$pid" "$port"
			echo "versitygw.sh: started (pid $pid, port $port); eval \"\$(scripts/versitygw.sh env)\"" >&2
			return 0
		fi
		sleep 0.2
	done
	kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	die "versitygw did not answer on 127.0.0.1:$port within 30 s; its log ($LOG):
$(tail -n 20 "$LOG")"
}

write_env() {
	local tmp="$ENVFILE.tmp"
	cat >"$tmp" <<ENV
export STRATA_TEST_S3_PID=$1
export STRATA_TEST_S3_PORT=$2
export STRATA_TEST_S3_ENDPOINT=http://127.0.0.1:$2
export STRATA_TEST_S3_REGION=$REGION
export STRATA_TEST_S3_ACCESS_KEY=$ACCESS
export STRATA_TEST_S3_SECRET_KEY=$SECRET
ENV
	mv "$tmp" "$ENVFILE"
}

stop() {
	local r pid i
	if ! r="$(running)"; then
		rm -f "$ENVFILE"
		echo "versitygw.sh: not running" >&2
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
	echo "versitygw.sh: stopped (pid $pid)" >&2
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env)
	running >/dev/null || die "not running: run scripts/versitygw.sh start"
	cat "$ENVFILE"
	;;
status) running >/dev/null ;;
*)
	echo "usage: scripts/versitygw.sh start|stop|env|status" >&2
	exit 2
	;;
esac
