package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/config"
)

// FuzzRetrievalParams checks that whatever a client sends as a dataset,
// an archive type and a query string, a retrieval is either refused with a
// 400 or satisfies every rule the handler promises the Service.
func FuzzRetrievalParams(f *testing.F) {
	seeds := [][3]string{
		{"orders", "analytics", "from=2024-11-01&to=2024-11-30&columns=order_id,total&format=csv"},
		{"orders", "source", "from=2024-11-01T00:00:00Z&to=2024-11-01T12:00:00.5%2B02:00&include_live=true"},
		{"orders", "analytics", "from=2024-02-01&to=2024-01-01"},
		{"../etc", "source", "from=2024-01-01&to=2024-01-01&where=1%3D1%3B%20DROP%20TABLE%20t"},
		{"orders", "analytics", "from=2024-01-01&to=2024-01-02&columns=a;drop table x"},
		{"orders\x00", "analytics%00", "from=0000-01-01&to=9999-12-31"},
		{"orders", "analytics", "from=2024-01-01&to=2024-01-02&columns=%22a%22,b&format=parquet&from=x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	s := New(nil, Options{})
	f.Fuzz(func(t *testing.T, dataset, typ, raw string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: raw}}
		r.SetPathValue("dataset", dataset)
		r.SetPathValue("type", typ)
		q, err := s.parseRetrieval(r)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.code != http.StatusBadRequest || ae.msg == "" {
				t.Fatalf("refused with %v, want a 400 with a message", err)
			}
			return
		}
		req := q.req
		if !config.ValidDatasetName(req.Table) || (req.DataType != "analytics" && req.DataType != "source") {
			t.Fatalf("accepted dataset %q, type %q", req.Table, req.DataType)
		}
		if req.Start.IsZero() || req.End.Before(req.Start) || req.End.Sub(req.Start) > s.limits.MaxSpan.Duration() {
			t.Fatalf("accepted the range %v .. %v", req.Start, req.End)
		}
		for _, c := range req.Columns {
			if config.ValidateIdentifier(c) != nil {
				t.Fatalf("accepted the column %q", c)
			}
		}
		if _, ok := contentTypes[q.format]; !ok || len(req.Where) > maxWhereBytes || req.MaxRows != s.limits.MaxResultRows+1 {
			t.Fatalf("accepted format %q, a where of %d bytes, MaxRows %d", q.format, len(req.Where), req.MaxRows)
		}
	})
}

// FuzzCheckPath checks that no accepted path has a dot, dot-dot or empty
// segment, a NUL or a backslash.
func FuzzCheckPath(f *testing.F) {
	for _, p := range []string{"/", "/v1/catalog", "/v1/datasets/../records", "/a//b", "/a/./b", "/a/..", "/a\x00", `/a\..\b`, "a/b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if checkPath(p) != nil {
			return
		}
		segs := strings.Split(p, "/")
		if !strings.HasPrefix(p, "/") || slices.Contains(segs, "..") || slices.Contains(segs, ".") ||
			strings.Contains(p, "//") || strings.ContainsAny(p, "\x00\\") {
			t.Fatalf("accepted the path %q", p)
		}
	})
}

func TestClientMessagesLoseTheSentinelPrefixes(t *testing.T) {
	cases := map[string]string{
		"invalid request: unknown column \"x\"":              "unknown column \"x\"",
		"invalid request\nbad request: unknown column \"x\"": "unknown column \"x\"",
		"not found: no dataset \"x\" in the config":          "no dataset \"x\" in the config",
		"storage: read svc/a: boom\nsecond line":             "storage: read svc/a: boom: second line",
	}
	for in, want := range cases {
		if got := clientMessage(errors.New(in)); got != want {
			t.Errorf("clientMessage(%q) = %q, want %q", in, got, want)
		}
	}
}
