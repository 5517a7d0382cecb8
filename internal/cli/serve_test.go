package cli_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/testenv"
)

// startServe runs strata serve in the background and returns its base URL
// (read from its first line of output), a cancel that stands for SIGTERM
// and a channel with its exit code.
func startServe(t *testing.T, env map[string]string, args ...string) (string, context.CancelFunc, chan int, *testenv.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out, errb := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, append([]string{"serve"}, args...), cli.Env{
			Stdin: strings.NewReader(""), Stdout: out, Stderr: errb,
			Getenv: func(k string) string { return env[k] },
		})
	}()
	addr := regexp.MustCompile(`^strata: serving on (https?://127\.0\.0\.1:\d+)\n`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			return m[1], cancel, code, errb
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited %d before serving:\n%s%s", c, out, errb)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no address in 30s:\n%s%s", out, errb)
	return "", nil, nil, nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeAnswersOnAFreePortAndExitsZeroWhenStopped(t *testing.T) {
	cfg, _ := setup(t)
	env := map[string]string{"STRATA_CONFIG": cfg}
	if r := run(t, env, "archive"); r.code != 0 {
		t.Fatalf("archive: %d %s", r.code, r.stderr)
	}
	base, stop, exit, logs := startServe(t, env, "--listen", "127.0.0.1:0", "--no-scheduler")
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := get(t, base+"/v1/catalog?dataset=orders"); code != http.StatusOK || !strings.Contains(body, `"type": "analytics"`) {
		t.Fatalf("catalog: %d %s", code, body)
	}
	code, body := get(t, base+"/metrics")
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", `strata_http_request_duration_seconds_count{code="200",method="GET",route="GET /healthz"} 1`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	stop()
	select {
	case c := <-exit:
		if c != 0 {
			t.Fatalf("serve exited %d after SIGTERM, want 0:\n%s", c, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	if !strings.Contains(logs.String(), "listening") || !strings.Contains(logs.String(), "stopped") {
		t.Fatalf("serve's log lacks listening / stopped:\n%s", logs)
	}
}

func TestServeExitsOneWhenTheAddressIsInUse(t *testing.T) {
	cfg, _ := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := run(t, map[string]string{"STRATA_CONFIG": cfg}, "serve", "--listen", ln.Addr().String())
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("exit %d, stderr %q; want 1 saying the address is in use", r.code, r.stderr)
	}
}

func TestServeRefusesBadUsageWithExitTwo(t *testing.T) {
	cfg, _ := setup(t)
	env := map[string]string{"STRATA_CONFIG": cfg}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"an unknown flag", env, []string{"serve", "--port", "80"}, "unknown flag"},
		{"a listen address without a port", env, []string{"serve", "--listen", "localhost"}, "host:port"},
		{"a port out of range", env, []string{"serve", "--listen", "127.0.0.1:99999"}, "invalid port"},
		{"an argument", env, []string{"serve", "now"}, "no arguments"},
		{"no configuration", nil, []string{"serve"}, "--config"},
		{"a bad server setting", map[string]string{"STRATA_CONFIG": cfg, "STRATA_SERVER_SCHEDULER": "maybe"}, []string{"serve"}, "server.scheduler"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, c.want)
			}
		})
	}
}

func TestServeHelpTeachesEveryRouteWithCurl(t *testing.T) {
	r := run(t, nil, "serve", "--help")
	for _, want := range []string{"/v1/datasets/orders/records", "/archive/analytics?", "/archive/source?", "/v1/catalog", "/healthz", "/metrics", "Authorization: Bearer", "strata token create", "loopback", "--no-scheduler"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help (exit %d) lacks %q", r.code, want)
		}
	}
}

func TestServeRunsTheLifecycleOnTheDatasetsSchedule(t *testing.T) {
	cfg, _ := setup(t)
	env := map[string]string{"STRATA_CONFIG": cfg, "STRATA_DATASETS_ORDERS_SCHEDULE_ANALYTICS_ARCHIVE": "1s"}
	base, stop, code, errb := startServe(t, env, "--listen", "127.0.0.1:0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, base+"/metrics")
		if strings.Contains(body, `strata_job_runs_total{dataset="orders",job="analytics_archive",outcome="ok"}`) {
			if !strings.Contains(body, `strata_archived_rows_total{dataset="orders",type="analytics"} 180`) {
				t.Fatalf("the scheduled run archived other than the 9 whole days x 20 rows past retention:\n%s", grepLines(body, "strata_archived"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful scheduled analytics run in 30s:\n%s\n%s", grepLines(body, "strata_job"), errb)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, body := get(t, base+"/v1/catalog?dataset=orders&type=analytics"); status != http.StatusOK || strings.Count(body, `"key"`) != 9 {
		t.Fatalf("catalog after the scheduled run: %d, %d objects, want 9\n%s", status, strings.Count(body, `"key"`), body)
	}
	stop()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", c, errb)
	}
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
