# scripts/service-lib.sh: the process handling that scripts/azurite.sh and
# scripts/versitygw.sh share (sourced, not run). The caller sets
#   NAME      its name in messages ("azurite")
#   ENVFILE   the env file its start writes, holding PID_VAR and PORT_VAR
#   PID_VAR, PORT_VAR   the names of the pid and port variables in ENVFILE
#   PROC      a word the server's command line contains (guards pid reuse)
#   LOG       the server's log
# and defines answers PORT (true once the server answers) and write_env PID PORT.

die() { echo "$NAME.sh: $*" >&2; exit 1; }

ignore_dir() { # make a folder that git ignores whatever the repo's .gitignore says
	mkdir -p "$1"
	[ -f "$1/.gitignore" ] || printf '*\n' >"$1/.gitignore"
}

# running prints the pid and port of a live server started by the script.
running() {
	[ -f "$ENVFILE" ] || return 1
	local pid port
	pid="$(sed -n "s/^export $PID_VAR=//p" "$ENVFILE")"
	port="$(sed -n "s/^export $PORT_VAR=//p" "$ENVFILE")"
	[ -n "$pid" ] && [ -n "$port" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	grep -q "$PROC" "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid $port"
}

free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
	else
		node -e 'const s=require("net").createServer(); s.listen(0,"127.0.0.1",()=>{console.log(s.address().port); s.close()})'
	fi
}

# wait_up PID PORT waits up to 30 s for the server started as PID to answer
# on PORT, then writes its env file; it kills the server and fails if not.
wait_up() {
	local pid="$1" port="$2" i
	for i in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			die "$NAME exited during start-up; its log ($LOG):
$(tail -n 20 "$LOG")"
		fi
		if answers "$port"; then
			write_env "$pid" "$port"
			echo "$NAME.sh: started (pid $pid, port $port); eval \"\$(scripts/$NAME.sh env)\"" >&2
			return 0
		fi
		sleep 0.2
	done
	kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	die "$NAME did not answer on 127.0.0.1:$port within 30 s; its log ($LOG):
$(tail -n 20 "$LOG")"
}

# stop ends the server started by the script (SIGTERM to its process group,
# SIGKILL after 10 s) and removes its env file.
stop() {
	local r pid i
	if ! r="$(running)"; then
		rm -f "$ENVFILE"
		echo "$NAME.sh: not running" >&2
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
	echo "$NAME.sh: stopped (pid $pid)" >&2
}

# main runs the command named by $1 (start, stop, env, status).
main() {
	case "${1:-}" in
	start) start ;;
	stop) stop ;;
	env)
		running >/dev/null || die "not running: run scripts/$NAME.sh start"
		cat "$ENVFILE"
		;;
	status) running >/dev/null ;;
	*)
		echo "usage: scripts/$NAME.sh start|stop|env|status" >&2
		exit 2
		;;
	esac
}
