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

NAME=versitygw PROC=versitygw PID_VAR=STRATA_TEST_S3_PID PORT_VAR=STRATA_TEST_S3_PORT
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"

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
	local port pid
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
	wait_up "$pid" "$port"
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

main "$@"
