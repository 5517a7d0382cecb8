package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
	"github.com/stratahq/strata/internal/storage/local"
	"github.com/stratahq/strata/internal/storage/s3"
	"github.com/stratahq/strata/internal/testenv"
)

// Backends the scenarios run against.
const (
	backendLocal   = "local"
	backendAzurite = "azurite"
	backendS3      = "s3"
	// backendS3Locked is an S3 bucket with Object Lock, for the scenarios
	// with archive.immutability on (not in backends).
	backendS3Locked = "s3-locked"
)

var backends = []string{backendLocal, backendAzurite, backendS3}

// The dataset every scenario archives: demo "orders", in a table of that name.
const (
	dataset    = "orders"
	table      = "orders"
	keyColumn  = "order_id"
	timeColumn = "ordered_at"
	prefix     = "e2e"
	// envRetention overrides analytics.retention of the dataset for one run.
	envRetention = "STRATA_DATASETS_ORDERS_ANALYTICS_RETENTION"
)

// world is one scenario's database, archive and strata configuration.
type world struct {
	t       *testing.T
	backend string
	dbURL   string
	pool    *pgxpool.Pool
	dir     string // config, spool (TMPDIR of the subprocesses), local archive
	config  string
	store   storage.Backend // the archive as the test sees it, without retries
	archive string          // local archive folder ("" on Azurite and S3)
	env     []string        // environment of every strata subprocess
	// archiveRuns counts `strata archive` processes started.
	archiveRuns int
}

// newWorld makes a fresh database and an empty archive on backend, and writes
// a strata.yaml for them. It skips when a service is missing (fails under CI).
func newWorld(t *testing.T, backend string) *world {
	t.Helper()
	return newWorldOf(t, backend, ordersEntry())
}

// ordersEntry is the dataset of every scenario: orders, over a table the
// scenario makes.
func ordersEntry() testenv.Dataset {
	return testenv.Dataset{Name: dataset, Key: keyColumn, TimeColumn: timeColumn,
		Extra: "archive:\n  compression: snappy\n  retention: 7y"}
}

// newWorldOf is newWorld with the datasets ds in strata.yaml.
func newWorldOf(t *testing.T, backend string, ds ...testenv.Dataset) *world {
	t.Helper()
	w := &world{t: t, backend: backend, env: baseEnv()}
	o := testenv.Options{Prefix: prefix, Extra: "log:\n  level: info\n  format: json\nerasure:\n  key_file: erasure.key", Datasets: ds}
	switch backend {
	case backendLocal:
	case backendAzurite:
		o.StorageURL = w.openAzurite()
	case backendS3, backendS3Locked:
		o.StorageURL = w.openS3(backend == backendS3Locked)
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	e := testenv.New(t, o)
	w.dbURL, w.pool, w.dir, w.config = e.DBURL, e.Pool, e.Dir, e.ConfigPath
	w.env = append(w.env, "TMPDIR="+w.dir)
	if backend == backendLocal {
		w.archive = e.ArchiveDir
		b, err := local.Open(w.archive)
		if err != nil {
			t.Fatalf("open local archive: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		w.store = b
	}
	return w
}

// baseEnv is this process's environment without any STRATA_, AZURE_ or AWS_
// variable (so the tests' own settings never leak into strata's
// configuration), plus extra.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") && !strings.HasPrefix(kv, "AZURE_") && !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

const azuriteMissing = "Azurite is not running (STRATA_TEST_AZURITE_ENDPOINT, STRATA_TEST_AZURITE_KEY unset): run `make services-up` and source .state/test.env"

// openAzurite creates a fresh container for the world and returns its
// storage URL; the container is deleted when the test ends.
func (w *world) openAzurite() string {
	t := w.t
	t.Helper()
	endpoint, key := os.Getenv("STRATA_TEST_AZURITE_ENDPOINT"), os.Getenv("STRATA_TEST_AZURITE_KEY")
	if endpoint == "" || key == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(azuriteMissing)
		}
		t.Skip(azuriteMissing)
	}
	const account = "devstoreaccount1"
	name := "e2e-" + strings.ToLower(rand.Text()[:16])
	u := &url.URL{Scheme: "azblob", Host: name,
		RawQuery: url.Values{"account": {account}, "endpoint": {endpoint}}.Encode()}
	getenv := func(k string) string {
		if k == azblob.EnvKey {
			return key
		}
		return ""
	}
	ctx := context.Background()
	b, err := azblob.Open(ctx, u, getenv, azblob.Options{})
	if err != nil {
		t.Fatalf("open Azurite container %s: %v", name, err)
	}
	if err := b.EnsureContainer(ctx); err != nil {
		t.Fatalf("create Azurite container %s: %v", name, err)
	}
	w.store = b
	w.env = append(w.env, azblob.EnvKey+"="+key)
	t.Cleanup(func() {
		cred, err := container.NewSharedKeyCredential(account, key)
		if err != nil {
			return
		}
		if c, err := container.NewClientWithSharedKeyCredential(endpoint+"/"+name, cred, nil); err == nil {
			_, _ = c.Delete(context.Background(), nil)
		}
	})
	return u.String()
}

// openS3 creates a fresh versioned bucket for the world, with Object Lock
// when locked (testenv removes it when the test ends), and returns its
// storage URL.
func (w *world) openS3(locked bool) string {
	t := w.t
	t.Helper()
	newBucket := testenv.NewS3Bucket
	if locked {
		newBucket = testenv.NewS3LockedBucket
	}
	raw, vars := newBucket(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s3.FromURL(context.Background(), u, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("open S3 bucket %s: %v", u.Host, err)
	}
	w.store = b
	for k, v := range vars {
		w.env = append(w.env, k+"="+v)
	}
	return raw
}

// createOrders makes the orders table with days days of perDay rows each,
// the newest day being today (UTC).
func (w *world) createOrders(days, perDay int) {
	w.t.Helper()
	ds := ordersDataset(w.t)
	ds.PerDay = perDay
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := demo.Create(ctx, w.pool, ds, days); err != nil {
		w.t.Fatalf("create demo orders: %v", err)
	}
}

func ordersDataset(t *testing.T) demo.Dataset {
	t.Helper()
	i := slices.IndexFunc(demo.Datasets, func(d demo.Dataset) bool { return d.Name == dataset })
	if i < 0 {
		t.Fatalf("demo has no %s dataset", dataset)
	}
	return demo.Datasets[i]
}

// result is how a strata process ended.
type result struct {
	args   []string
	code   int  // exit status; -1 when killed by a signal
	killed bool // ended by SIGKILL
	stdout string
	stderr string
	wall   time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("strata %s: exit %d (killed %v) after %s\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.args, " "), r.code, r.killed, r.wall.Round(time.Millisecond), r.stdout, tail(r.stderr, 4000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// command prepares `strata args...` with the world's config and environment
// plus env.
func (w *world) command(ctx context.Context, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	full := append([]string{args[0], "--config", w.config}, args[1:]...)
	cmd := exec.CommandContext(ctx, strataBin, full...)
	cmd.Env = append(slices.Clone(w.env), env...)
	cmd.Dir = w.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if args[0] == "archive" {
		w.archiveRuns++
	}
	return cmd, &stdout, &stderr
}

// strata runs strata to completion and returns how it ended.
func (w *world) strata(env []string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stdout, stderr := w.command(ctx, env, args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start strata: %v", err)
	}
	return w.wait(cmd, args, start, stdout, stderr)
}

// wait waits for a started strata process.
func (w *world) wait(cmd *exec.Cmd, args []string, start time.Time, stdout, stderr *bytes.Buffer) result {
	w.t.Helper()
	err := cmd.Wait()
	r := result{args: args, wall: time.Since(start), stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = ws.Signal() == syscall.SIGKILL
		}
	default:
		w.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	w.t.Logf("strata %s: exit %d (killed %v) in %s", strings.Join(args, " "), r.code, r.killed, r.wall.Round(time.Millisecond))
	return r
}

// mustSucceed runs strata and fails the test unless it exits 0.
func (w *world) mustSucceed(env []string, args ...string) result {
	w.t.Helper()
	r := w.strata(env, args...)
	if r.code != 0 || r.killed {
		w.t.Fatalf("want success: %s", r)
	}
	return r
}

// withRetention is the environment that sets the dataset's retention.
func withRetention(d string) []string { return []string{envRetention + "=" + d} }

// exec runs SQL on the world's database.
func (w *world) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.pool.Exec(context.Background(), sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// count runs a query returning one integer.
func (w *world) count(sql string, args ...any) int64 {
	w.t.Helper()
	var n int64
	if err := w.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// storedKeys lists every archive object under the archive prefix (not
// the audit trail's anchors under {prefix}/audit/, nor the lakehouse
// tables' metadata under {prefix}/{type}/{dataset}/_*/).
func (w *world) storedKeys() []string {
	w.t.Helper()
	var keys []string
	anchors := storage.MustKey(prefix, "audit")
	err := w.store.List(context.Background(), storage.MustKey(prefix), func(info storage.ObjectInfo) error {
		if segs := info.Key.Segments(); len(segs) > 4 && strings.HasPrefix(segs[3], "_") {
			return nil
		}
		if !info.Key.HasPrefix(anchors) {
			keys = append(keys, info.Key.String())
		}
		return nil
	})
	if err != nil {
		w.t.Fatalf("list archive: %v", err)
	}
	return keys
}

// committedKeys lists the keys of committed objects in the catalog.
func (w *world) committedKeys() []string {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT key FROM strata.objects WHERE state <> 'expired' ORDER BY key`)
	if err != nil {
		w.t.Fatalf("list committed objects: %v", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			w.t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return keys
}

// catalogExists reports whether the strata schema was created yet.
func (w *world) catalogExists() bool {
	w.t.Helper()
	return w.count(`SELECT count(*) FROM pg_namespace WHERE nspname = 'strata'`) > 0
}

// committedObjects counts committed objects (0 before the catalog exists).
func (w *world) committedObjects() int64 {
	w.t.Helper()
	if !w.catalogExists() {
		return 0
	}
	return w.count(`SELECT count(*) FROM strata.objects`)
}

// insertLate inserts n rows into the UTC day daysAgo days before today, with
// keys from firstID on, into the table and into the reference copy: rows
// that arrive late for a day that may already be archived.
func (w *world) insertLate(daysAgo, n int, firstID int64) {
	w.t.Helper()
	w.exec(`WITH ins AS (INSERT INTO `+table+`
		SELECT $3::bigint + i, 42, 'late', 9.99, 'EUR', 1,
		       date_trunc('day', now(), 'UTC') - make_interval(days => $1) + make_interval(secs => i * 86399.0 / $2),
		       NULL
		FROM generate_series(0, $2 - 1) i RETURNING *)
		INSERT INTO ref SELECT * FROM ins`, daysAgo, n, firstID)
}

// proc is a strata process started in the background.
type proc struct {
	cmd            *exec.Cmd
	args           []string
	start          time.Time
	stdout, stderr *bytes.Buffer
	cancel         context.CancelFunc
}

// startStrata starts strata args... and returns at once.
func (w *world) startStrata(env []string, args ...string) *proc {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd, stdout, stderr := w.command(ctx, env, args...)
	p := &proc{cmd: cmd, args: args, start: time.Now(), stdout: stdout, stderr: stderr, cancel: cancel}
	if err := cmd.Start(); err != nil {
		cancel()
		w.t.Fatalf("start strata: %v", err)
	}
	return p
}

// waitFor waits for a process started by startStrata.
func (w *world) waitFor(p *proc) result {
	w.t.Helper()
	defer p.cancel()
	return w.wait(p.cmd, p.args, p.start, p.stdout, p.stderr)
}

// archiveKilledAfter starts strata archive and SIGKILLs it after d, unless
// it ended before.
func (w *world) archiveKilledAfter(d time.Duration, env []string) result {
	w.t.Helper()
	p := w.startStrata(env, "archive")
	timer := time.AfterFunc(d, func() { _ = p.cmd.Process.Signal(syscall.SIGKILL) })
	defer timer.Stop()
	return w.waitFor(p)
}
