package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/s3"
	"github.com/stratahq/strata/internal/storage/storagetest"
	"github.com/stratahq/strata/internal/testenv"
)

// recorder is an http.RoundTripper that records requests and may fail them.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	fail func(*http.Request) (*http.Response, error)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if resp, err := fail(req); resp != nil || err != nil {
			return resp, err
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// newBackend opens a backend on a fresh versioned bucket of the test's own
// (testenv removes it when the test ends).
func newBackend(t *testing.T, opts s3.Options) (*s3.Backend, *recorder) {
	t.Helper()
	raw, vars := testenv.NewS3Bucket(t)
	return openBackend(t, raw, vars, opts)
}

// newLockedBackend is newBackend on a bucket with Object Lock enabled.
func newLockedBackend(t *testing.T, opts s3.Options) (*s3.Backend, *recorder) {
	t.Helper()
	raw, vars := testenv.NewS3LockedBucket(t)
	return openBackend(t, raw, vars, opts)
}

func openBackend(t *testing.T, raw string, vars map[string]string, opts s3.Options) (*s3.Backend, *recorder) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	opts.Transport = rec
	b, err := s3.Open(t.Context(), u, func(k string) string { return vars[k] }, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b, rec
}

func TestRetentionConformance(t *testing.T) {
	storagetest.RunRetention(t, func(t *testing.T) storage.Backend {
		b, _ := newLockedBackend(t, s3.Options{})
		return b
	})
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		b, _ := newBackend(t, s3.Options{})
		s3.SetListPageSize(b, 250) // 1200 objects span several pages
		return b
	})
}

func content(n int) ([]byte, storage.PutOptions) {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	sum := sha256.Sum256(p)
	return p, storage.PutOptions{Size: int64(n), SHA256: hex.EncodeToString(sum[:])}
}

func TestPutSendsIfNoneMatchAndSHA256(t *testing.T) {
	t.Run("single PutObject", func(t *testing.T) {
		b, rec := newBackend(t, s3.Options{})
		p, opts := content(1000)
		if _, err := b.Put(t.Context(), storage.MustKey("k"), bytes.NewReader(p), opts); err != nil {
			t.Fatal(err)
		}
		var put *http.Request
		for _, r := range rec.requests() {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/k") {
				put = r
			}
		}
		if put == nil {
			t.Fatal("no PutObject request seen")
		}
		sum := sha256.Sum256(p)
		if got := put.Header.Get("If-None-Match"); got != "*" {
			t.Errorf("If-None-Match = %q, want *", got)
		}
		if got, want := put.Header.Get("X-Amz-Checksum-Sha256"), b64(sum[:]); got != want {
			t.Errorf("x-amz-checksum-sha256 = %q, want %q", got, want)
		}
	})
	t.Run("multipart", func(t *testing.T) {
		b, rec := newBackend(t, s3.Options{PartSize: s3.MinPartSize})
		p, opts := content(s3.MinPartSize*2 + 1000) // 3 parts
		if _, err := b.Put(t.Context(), storage.MustKey("big"), bytes.NewReader(p), opts); err != nil {
			t.Fatal(err)
		}
		var parts, completes int
		for _, r := range rec.requests() {
			q := r.URL.Query()
			switch {
			case r.Method == http.MethodPut && q.Get("partNumber") != "":
				parts++
				if len(r.Header.Get("X-Amz-Checksum-Sha256")) != 44 {
					t.Errorf("UploadPart %s without x-amz-checksum-sha256", q.Get("partNumber"))
				}
			case r.Method == http.MethodPost && q.Has("uploadId"):
				completes++
				if got := r.Header.Get("If-None-Match"); got != "*" {
					t.Errorf("CompleteMultipartUpload If-None-Match = %q, want *", got)
				}
			}
		}
		if parts != 3 || completes != 1 {
			t.Errorf("saw %d UploadPart and %d Complete, want 3 and 1", parts, completes)
		}
		st, err := b.Stat(t.Context(), storage.MustKey("big"))
		if err != nil || st.Size != int64(len(p)) || st.SHA256 != opts.SHA256 {
			t.Errorf("Stat = %+v, %v", st, err)
		}
	})
}

// A multipart upload that fails midway is aborted: no upload is left behind.
func TestFailedMultipartIsAborted(t *testing.T) {
	b, rec := newBackend(t, s3.Options{PartSize: s3.MinPartSize})
	p, opts := content(s3.MinPartSize*2 + 10)
	opts.SHA256 = strings.Repeat("0", 64)
	key := storage.MustKey("x", "y.parquet")
	if _, err := b.Put(t.Context(), key, bytes.NewReader(p), opts); !errors.Is(err, storage.ErrChecksum) {
		t.Fatalf("Put err = %v, want ErrChecksum", err)
	}
	aborted := false
	for _, r := range rec.requests() {
		aborted = aborted || (r.Method == http.MethodDelete && r.URL.Query().Has("uploadId"))
	}
	if !aborted {
		t.Error("no AbortMultipartUpload after a failed upload")
	}
	out, err := b.Client().ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(b.Config().Bucket)})
	if err != nil || len(out.Uploads) != 0 {
		t.Errorf("ListMultipartUploads = %d uploads (%v), want none", len(out.Uploads), err)
	}
}

// Server failures are translated once: 5xx and 429 retryable with their
// Retry-After, 403 permanent with a hint; and nothing is retried by the SDK.
func TestErrorsAreTranslatedAndNotRetriedBySDK(t *testing.T) {
	b, rec := newBackend(t, s3.Options{})
	cases := []struct {
		status    int
		code      string
		retryable bool
	}{
		{503, "SlowDown", true},
		{500, "InternalError", true},
		{429, "TooManyRequests", true},
		{403, "AccessDenied", false},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			n := len(rec.requests())
			rec.fail = func(*http.Request) (*http.Response, error) {
				body := `<?xml version="1.0"?><Error><Code>` + tc.code + `</Code><Message>m</Message></Error>`
				return &http.Response{StatusCode: tc.status, Header: http.Header{"Retry-After": {"3"}, "Content-Type": {"application/xml"}},
					Body: ioNop(body), ContentLength: int64(len(body))}, nil
			}
			defer func() { rec.fail = nil }()
			_, err := b.Get(t.Context(), storage.MustKey("k"))
			var e *s3.Error
			if !errors.As(err, &e) || e.StatusCode != tc.status || e.Code != tc.code || e.Retryable() != tc.retryable {
				t.Fatalf("Get err = %#v, want *s3.Error %d %s retryable=%v", err, tc.status, tc.code, tc.retryable)
			}
			if storage.IsRetryable(err) != tc.retryable {
				t.Errorf("storage.IsRetryable = %v", !tc.retryable)
			}
			if tc.retryable && e.RetryAfter().Seconds() != 3 {
				t.Errorf("RetryAfter = %v, want 3s", e.RetryAfter())
			}
			if got := len(rec.requests()) - n; got != 1 {
				t.Errorf("%d requests sent, want 1 (the SDK must not retry)", got)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	good := []struct {
		raw  string
		want s3.Config
	}{
		{"s3://my-bucket?region=eu-central-1", s3.Config{Bucket: "my-bucket", Region: "eu-central-1"}},
		{"s3://b.example?region=us-east-1&endpoint=http://127.0.0.1:9000/&path_style=true",
			s3.Config{Bucket: "b.example", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000", PathStyle: true}},
	}
	for _, tc := range good {
		u, _ := url.Parse(tc.raw)
		if got, err := s3.ParseURL(u); err != nil || got != tc.want {
			t.Errorf("ParseURL(%s) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
	bad := map[string]string{
		"s3://bucket":                                   "region",
		"s3://bucket/path?region=r":                     "path",
		"s3://Bucket?region=r":                          "bucket name",
		"s3://user:pw@bucket?region=r":                  "credentials",
		"s3://bucket?region=r&color=blue":               "unknown",
		"s3://bucket?region=r&region=s":                 "2 times",
		"s3://bucket?region=r&path_style=yes":           "true or false",
		"s3://bucket?region=r&endpoint=ftp://h":         "https://",
		"s3://bucket?region=r&endpoint=http://h/?sig=1": "query",
		"azblob://bucket?region=r":                      "scheme",
	}
	for raw, want := range bad {
		u, _ := url.Parse(raw)
		if _, err := s3.ParseURL(u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%s) err = %v, want one mentioning %q", raw, err, want)
		}
	}
}

func b64(p []byte) string { return base64.StdEncoding.EncodeToString(p) }

func ioNop(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// The composite SHA-256 S3 reports for a completed multipart upload is
// checked against the parts sent: a server that assembled other bytes (here:
// a reply whose checksum is altered) gets its object withdrawn and the Put
// fails retryably.
func TestMultipartCompositeChecksumIsChecked(t *testing.T) {
	b, rec := newBackend(t, s3.Options{PartSize: s3.MinPartSize})
	altered := false
	rec.fail = func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodPost || !r.URL.Query().Has("uploadId") {
			return nil, nil
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		s := string(body)
		if i := strings.Index(s, "<ChecksumSHA256>"); i >= 0 {
			i += len("<ChecksumSHA256>")
			s, altered = s[:i]+"AAAA"+s[i+4:], true
		}
		resp.Body, resp.ContentLength = ioNop(s), int64(len(s))
		resp.Header.Del("Content-Length")
		return resp, nil
	}
	p, opts := content(s3.MinPartSize + 10)
	key := storage.MustKey("big")
	_, err := b.Put(t.Context(), key, bytes.NewReader(p), opts)
	if !altered {
		t.Fatal("the server reported no composite SHA-256 to alter")
	}
	if err == nil || !storage.IsRetryable(err) {
		t.Fatalf("Put err = %v, want a retryable error", err)
	}
	rec.fail = nil
	if _, err := b.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after the altered reply: %v, want ErrNotExist (the object withdrawn)", err)
	}
}
