package azblob_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
	"github.com/stratahq/strata/internal/storage/storagetest"
)

const azuriteMissing = "Azurite not running: run `make test` or scripts/azurite.sh start"

// azurite returns the endpoint and key of the test Azurite, skipping the test
// when there is none (failing it when CI is set).
func azurite(t *testing.T) (endpoint, key string) {
	t.Helper()
	endpoint, key = os.Getenv("STRATA_TEST_AZURITE_ENDPOINT"), os.Getenv("STRATA_TEST_AZURITE_KEY")
	if endpoint == "" || key == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(azuriteMissing)
		}
		t.Skip(azuriteMissing)
	}
	return endpoint, key
}

// fixture is a backend on a fresh, randomly named container that is deleted
// when the test ends. The container does not exist until the first Put.
type fixture struct {
	b        *azblob.Backend
	rec      *recorder
	endpoint string
	key      string
	name     string
}

func newFixture(t *testing.T, opts azblob.Options) *fixture {
	t.Helper()
	endpoint, key := azurite(t)
	f := &fixture{rec: &recorder{}, endpoint: endpoint, key: key, name: "strata-test-" + strings.ToLower(rand.Text()[:16])}
	f.rec.next = opts.Transport
	opts.Transport = f.rec
	u := &url.URL{Scheme: "azblob", Host: f.name, RawQuery: url.Values{"account": {"devstoreaccount1"}, "endpoint": {endpoint}}.Encode()}
	b, err := azblob.Open(context.Background(), u, envMap{azblob.EnvKey: key}.get, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	f.b = b
	t.Cleanup(func() {
		c := f.containerClient(t)
		_, _ = c.Delete(context.Background(), nil)
	})
	return f
}

func (f *fixture) containerClient(t *testing.T) *container.Client {
	t.Helper()
	cred, err := container.NewSharedKeyCredential("devstoreaccount1", f.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(f.endpoint+"/"+f.name, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }

// recorder is an http.RoundTripper that records each request's method,
// query and headers, and may fail requests on demand.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
	// fail, when set, answers a request instead of the server.
	fail func(*http.Request) (*http.Response, error)
}

type recorded struct {
	method string
	query  url.Values
	header http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Query(), req.Header.Clone()})
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if resp, err := fail(req); resp != nil || err != nil {
			return resp, err
		}
	}
	next := r.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

// header looks a header up by any case: the SDK sets some (Content-MD5,
// x-ms-*) without canonicalising their names.
func header(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (r *recorder) puts() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, q := range r.reqs {
		if q.method == http.MethodPut && q.query.Get("restype") != "container" {
			out = append(out, q)
		}
	}
	return out
}

func content(n int) ([]byte, storage.PutOptions) {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	sum := sha256.Sum256(p)
	return p, storage.PutOptions{Size: int64(n), SHA256: hex.EncodeToString(sum[:])}
}

// readAll reads a Get or GetRange result: readAll(t)(b.Get(ctx, key)).
func readAll(t *testing.T) func(io.ReadCloser, error) []byte {
	t.Helper()
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		p, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// small makes every object over 64 KiB go up in 64 KiB blocks.
var small = azblob.Options{BlockSize: 64 << 10}

func TestPutThenReadBackInBothUploadPaths(t *testing.T) {
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 300 << 10} {
		t.Run(fmt.Sprint(n, "_bytes"), func(t *testing.T) {
			f := newFixture(t, small)
			ctx := context.Background()
			key := storage.MustKey("analytics", "orders", "2024", "11", "01", "chunk_1.parquet")
			p, opts := content(n)
			opts.Metadata = map[string]string{"dataset": "orders"}
			info, err := f.b.Put(ctx, key, bytes.NewReader(p), opts)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if info.Size != int64(n) || info.SHA256 != opts.SHA256 || info.ModTime.IsZero() {
				t.Errorf("Put info = %+v", info)
			}
			if got := readAll(t)(f.b.Get(ctx, key)); !bytes.Equal(got, p) {
				t.Errorf("Get returned %d bytes, want the %d put", len(got), n)
			}
			st, err := f.b.Stat(ctx, key)
			if err != nil || st.Size != int64(n) || st.SHA256 != opts.SHA256 || st.Key != key {
				t.Errorf("Stat = %+v, %v", st, err)
			}
		})
	}
}

func TestPutIsCreateOnly(t *testing.T) {
	for _, n := range []int{10, 200 << 10} {
		t.Run(fmt.Sprint(n, "_bytes"), func(t *testing.T) {
			f := newFixture(t, small)
			ctx := context.Background()
			key := storage.MustKey("a", "b")
			p, opts := content(n)
			if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); err != nil {
				t.Fatal(err)
			}
			q := bytes.Repeat([]byte{'x'}, n)
			sum := sha256.Sum256(q)
			_, err := f.b.Put(ctx, key, bytes.NewReader(q), storage.PutOptions{Size: int64(n), SHA256: hex.EncodeToString(sum[:])})
			if !errors.Is(err, storage.ErrExist) {
				t.Fatalf("second Put err = %v, want ErrExist", err)
			}
			if got := readAll(t)(f.b.Get(ctx, key)); !bytes.Equal(got, p) {
				t.Error("second Put changed the object")
			}
		})
	}
}

func TestPutSendsIfNoneMatchAndTransactionalMD5(t *testing.T) {
	t.Run("single Put Blob", func(t *testing.T) {
		f := newFixture(t, small)
		p, opts := content(1000)
		if _, err := f.b.Put(context.Background(), storage.MustKey("k"), bytes.NewReader(p), opts); err != nil {
			t.Fatal(err)
		}
		puts := f.rec.puts()
		last := puts[len(puts)-1]
		sum := md5.Sum(p)
		if got := last.header.Get("If-None-Match"); got != "*" {
			t.Errorf("If-None-Match = %q, want *", got)
		}
		if got, want := header(last.header, "Content-MD5"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
			t.Errorf("Content-MD5 = %q, want %q", got, want)
		}
	})
	t.Run("staged blocks", func(t *testing.T) {
		f := newFixture(t, small)
		p, opts := content(150 << 10) // 64 + 64 + 22 KiB
		if _, err := f.b.Put(context.Background(), storage.MustKey("k"), bytes.NewReader(p), opts); err != nil {
			t.Fatal(err)
		}
		var blocks int
		var commit *recorded
		for _, r := range f.rec.puts() {
			switch r.query.Get("comp") {
			case "block":
				blocks++
				if len(header(r.header, "Content-MD5")) != 24 {
					t.Errorf("Put Block without Content-MD5: %v", r.header)
				}
			case "blocklist":
				commit = &r
			}
		}
		if blocks != 3 || commit == nil {
			t.Fatalf("saw %d Put Block and commit %v, want 3 blocks and a commit", blocks, commit != nil)
		}
		whole := md5.Sum(p)
		if got := commit.header.Get("If-None-Match"); got != "*" {
			t.Errorf("Put Block List If-None-Match = %q, want *", got)
		}
		if got := header(commit.header, "x-ms-blob-content-md5"); got != base64.StdEncoding.EncodeToString(whole[:]) {
			t.Errorf("Put Block List x-ms-blob-content-md5 = %q", got)
		}
	})
}

func TestBadUploadLeavesNothing(t *testing.T) {
	p, opts := content(200 << 10)
	wrongSum := opts
	wrongSum.SHA256 = strings.Repeat("0", 64)
	tooShort := opts
	tooShort.Size++
	tooLong := opts
	tooLong.Size--
	smallOpts := func(o storage.PutOptions) storage.PutOptions { // same faults under the single-upload limit
		o.Size -= 150 << 10
		return o
	}
	cases := []struct {
		name string
		body []byte
		opts storage.PutOptions
	}{
		{"a staged upload with the wrong SHA-256", p, wrongSum},
		{"a staged upload whose reader ends early", p, tooShort},
		{"a staged upload whose reader runs long", p, tooLong},
		{"a single upload with the wrong SHA-256", p[:50<<10], smallOpts(wrongSum)},
		{"a single upload whose reader ends early", p[:50<<10], smallOpts(tooShort)},
		{"a single upload whose reader runs long", p[:50<<10], smallOpts(tooLong)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, small)
			ctx := context.Background()
			key := storage.MustKey("x", "y.parquet")
			_, err := f.b.Put(ctx, key, bytes.NewReader(tc.body), tc.opts)
			if !errors.Is(err, storage.ErrChecksum) {
				t.Fatalf("Put err = %v, want ErrChecksum", err)
			}
			for _, r := range f.rec.puts() {
				if c := r.query.Get("comp"); c == "" || c == "blocklist" {
					t.Errorf("a blob was written or committed (comp=%q)", c)
				}
			}
			if _, err := f.b.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat after failed Put: %v, want ErrNotExist", err)
			}
			if n := count(t, f.b, storage.Key{}); n != 0 {
				t.Errorf("List after failed Put saw %d objects", n)
			}
			// The key is still free: a correct Put succeeds.
			good, gopts := content(100)
			if _, err := f.b.Put(ctx, key, bytes.NewReader(good), gopts); err != nil {
				t.Errorf("Put after failed Put: %v", err)
			}
		})
	}
}

func TestCancelledPutLeavesNothing(t *testing.T) {
	f := newFixture(t, small)
	p, opts := content(300 << 10)
	ctx, cancel := context.WithCancel(context.Background())
	f.rec.fail = func(r *http.Request) (*http.Response, error) {
		if r.URL.Query().Get("comp") == "block" {
			cancel()
		}
		return nil, nil
	}
	key := storage.MustKey("k")
	if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put err = %v, want context.Canceled", err)
	}
	f.rec.fail = nil
	if _, err := f.b.Stat(context.Background(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat = %v, want ErrNotExist", err)
	}
}

func TestMissingObjectsAndContainer(t *testing.T) {
	f := newFixture(t, azblob.Options{})
	ctx := context.Background()
	key := storage.MustKey("nope")
	if n := count(t, f.b, storage.Key{}); n != 0 {
		t.Errorf("List of a missing container saw %d objects", n)
	}
	if _, err := f.b.Get(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Get: %v", err)
	}
	if _, err := f.b.GetRange(ctx, key, 1, 2); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("GetRange: %v", err)
	}
	if _, err := f.b.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat: %v", err)
	}
	if err := f.b.Delete(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Delete: %v", err)
	}
	if err := f.b.EnsureContainer(ctx); err != nil {
		t.Fatalf("EnsureContainer: %v", err)
	}
	if err := f.b.EnsureContainer(ctx); err != nil {
		t.Fatalf("EnsureContainer twice: %v", err)
	}
	if err := f.b.Delete(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Delete in an existing container: %v", err)
	}
}

func TestGetRange(t *testing.T) {
	f := newFixture(t, azblob.Options{})
	ctx := context.Background()
	key := storage.MustKey("r")
	p, opts := content(1000)
	if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ off, n int64 }{{0, 10}, {990, 10}, {990, 100}, {5, -1}, {0, -1}, {1000, -1}, {1000, 5}, {2000, 5}, {3, 0}} {
		want := p[min(tc.off, 1000):]
		if tc.n >= 0 {
			want = want[:min(int64(len(want)), tc.n)]
		}
		got := readAll(t)(f.b.GetRange(ctx, key, tc.off, tc.n))
		if !bytes.Equal(got, want) {
			t.Errorf("GetRange(%d, %d) = %d bytes, want %d", tc.off, tc.n, len(got), len(want))
		}
	}
}

func count(t *testing.T, b storage.Backend, prefix storage.Key) int {
	t.Helper()
	n := 0
	if err := b.List(context.Background(), prefix, func(storage.ObjectInfo) error { n++; return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	return n
}

func TestListPagesInOrderOncePerObject(t *testing.T) {
	f := newFixture(t, azblob.Options{})
	azblob.SetListPageSize(f.b, 3)
	ctx := context.Background()
	var want []string
	for _, name := range []string{"b", "a", "a=1", "a-x", "c.d", "e", "f", "g"} {
		k := storage.MustKey("p", name)
		p, opts := content(len(name))
		if _, err := f.b.Put(ctx, k, bytes.NewReader(p), opts); err != nil {
			t.Fatal(err)
		}
		want = append(want, k.String())
	}
	// A sibling that shares the prefix string but not the folder.
	p, opts := content(1)
	if _, err := f.b.Put(ctx, storage.MustKey("pp", "x"), bytes.NewReader(p), opts); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := f.b.List(ctx, storage.MustKey("p"), func(o storage.ObjectInfo) error {
		got = append(got, o.Key.String())
		if o.SHA256 == "" || o.ModTime.IsZero() {
			t.Errorf("List info %+v lacks SHA-256 or time", o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List = %v, want %v", got, want)
	}
	if n := count(t, f.b, storage.Key{}); n != len(want)+1 {
		t.Errorf("List of all saw %d objects, want %d", n, len(want)+1)
	}
	stop := errors.New("stop")
	if err := f.b.List(ctx, storage.Key{}, func(storage.ObjectInfo) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("List returned %v, want fn's error", err)
	}
}

func TestDeleteRemovesTheObject(t *testing.T) {
	f := newFixture(t, azblob.Options{})
	ctx := context.Background()
	key := storage.MustKey("d")
	p, opts := content(5)
	if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after Delete: %v", err)
	}
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return newFixture(t, azblob.Options{}).b })
}

// TestConformanceSmallBlocks runs the suite with 64 KiB blocks, so most
// objects take the staged-block path.
func TestConformanceSmallBlocks(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		f := newFixture(t, small)
		azblob.SetListPageSize(f.b, 100)
		return f.b
	})
}
