package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/config"
)

// hostileRequests are known-bad inputs (docs/RELIABILITY.md, "hostile
// input"); each must get a 4xx JSON answer and change nothing.
var hostileRequests = []struct {
	name, method, path, body string
}{
	{"a dot-dot segment", "GET", "/v1/datasets/../archive/source?from=2024-01-01&to=2024-01-02", ""},
	{"a dot-dot dataset", "POST", "/v1/datasets/../records", `{"a":1}`},
	{"an encoded dot-dot-slash", "GET", "/v1/datasets/%2e%2e%2f/archive/analytics?from=2024-01-01&to=2024-01-02", ""},
	{"an encoded dot-dot-slash into ingest", "POST", "/v1/datasets/%2e%2e%2forders/records", `{"a":1}`},
	{"an encoded slash in the dataset", "POST", "/v1/datasets/orders%2F..%2Fcustomers/records", `{"a":1}`},
	{"an encoded NUL", "POST", "/v1/datasets/orders%00/records", `{"a":1}`},
	{"a quote", "POST", "/v1/datasets/orders%22/records", `{"a":1}`},
	{"a single quote", "GET", "/v1/datasets/orders'/archive/source?from=2024-01-01&to=2024-01-02", ""},
	{"SQL as the dataset", "POST", "/v1/datasets/" + url.PathEscape("x; DROP TABLE orders; --") + "/records", `{"a":1}`},
	{"SQL as the dataset of a retrieval", "GET", "/v1/datasets/" + url.PathEscape("orders; DROP TABLE orders; --") + "/archive/analytics?from=2024-01-01&to=2024-01-02", ""},
	{"an upper-case dataset", "POST", "/v1/datasets/ORDERS/records", `{"a":1}`},
	{"a very long dataset name", "POST", "/v1/datasets/" + strings.Repeat("a", 5000) + "/records", `{"a":1}`},
	{"SQL as the archive type", "GET", "/v1/datasets/orders/archive/" + url.PathEscape("source; DROP TABLE orders") + "?from=2024-01-01&to=2024-01-02", ""},
	{"SQL in columns, raw semicolon", "GET", "/v1/datasets/orders/archive/source?from=2024-01-01&to=2024-01-02&columns=a;drop%20table%20x", ""},
	{"SQL in columns, encoded", "GET", "/v1/datasets/orders/archive/source?from=2024-01-01&to=2024-01-02&columns=" + url.QueryEscape("raw_id,raw_data; DROP TABLE orders; --"), ""},
	{"a quoted column", "GET", "/v1/datasets/orders/archive/source?from=2024-01-01&to=2024-01-02&columns=" + url.QueryEscape(`raw_id"`), ""},
	{"a NUL in columns", "GET", "/v1/datasets/orders/archive/source?from=2024-01-01&to=2024-01-02&columns=raw_id%00", ""},
	{"SQL in where", "GET", "/v1/datasets/orders/archive/source?from=2024-01-01&to=2024-01-02&where=" + url.QueryEscape("1=1; DROP TABLE orders"), ""},
	{"SQL in where, a subquery", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&to=2024-01-02&where=" + url.QueryEscape("order_id IN (SELECT 1); DELETE FROM orders"), ""},
	{"a where over the size limit", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&to=2024-01-02&where=" + strings.Repeat("a", 5000), ""},
	{"a reversed range", "GET", "/v1/datasets/orders/archive/analytics?from=2024-02-01&to=2024-01-01", ""},
	{"a reversed range by a microsecond", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01T00:00:00.000001Z&to=2024-01-01T00:00:00Z", ""},
	{"a bad time", "GET", "/v1/datasets/orders/archive/analytics?from=yesterday&to=2024-01-01", ""},
	{"a time with SQL", "GET", "/v1/datasets/orders/archive/analytics?from=" + url.QueryEscape("2024-01-01'; DROP TABLE orders; --") + "&to=2024-01-02", ""},
	{"a missing to", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01", ""},
	{"a range over max_span", "GET", "/v1/datasets/orders/archive/analytics?from=1900-01-01&to=2100-01-01", ""},
	{"an unknown format", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&to=2024-01-02&format=xml", ""},
	{"a misspelt parameter", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&to=2024-01-02&colums=a", ""},
	{"a repeated parameter", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&from=2023-01-01&to=2024-01-02", ""},
	{"a bad escape in the query", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&to=2024-01-02&where=%zz", ""},
	{"a bad include_live", "GET", "/v1/datasets/orders/archive/analytics?from=2024-01-01&to=2024-01-02&include_live=yes", ""},
	{"malformed JSON", "POST", "/v1/datasets/orders/records", "{\"order_id\": 1}\n{\"order_id\": \n"},
	{"a JSON string, not an object", "POST", "/v1/datasets/orders/records", "\"DROP TABLE orders\"\n"},
	{"an array of numbers", "POST", "/v1/datasets/orders/records", "[1, 2, 3]"},
	{"an unterminated array", "POST", "/v1/datasets/orders/records", `[{"order_id": 1}, {"order_id": 2}`},
	{"invalid UTF-8", "POST", "/v1/datasets/orders/records", "{\"order_id\": \"\xff\xfe\"}\n"},
	{"a query on ingest", "POST", "/v1/datasets/orders/records?dataset=customers", `{"a":1}`},
	{"a gzip body", "POST", "/v1/datasets/orders/records", "\x1f\x8b\x08\x00"},
}

func TestHostileRequestsGet4xxAndChangeNothing(t *testing.T) {
	e := newEnv(t, envOptions{archivedDays: 2, perDay: 5, limits: func(l *config.Server) {
		l.MaxSpan = config.DurationOf(3660 * config.Day)
	}})
	if r := e.ingest("orders", jsonl(records(9000, 3))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	before := e.state()
	for _, c := range hostileRequests {
		t.Run(c.name, func(t *testing.T) {
			code, body := rawRequest(t, e.url, c.method, c.path, c.body, c.name == "a gzip body")
			if code < 400 || code > 499 {
				t.Fatalf("%s %s: status %d, want 4xx\n%s", c.method, truncate(c.path), code, body)
			}
			if code != http.StatusRequestHeaderFieldsTooLarge && !strings.Contains(body, `"error": `) {
				t.Fatalf("%s %s: %d without a JSON error: %s", c.method, truncate(c.path), code, body)
			}
		})
	}
	if after := e.state(); after != before {
		t.Fatalf("hostile requests changed the database: %s -> %s", before, after)
	}
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Fatalf("hostile requests were logged as server errors:\n%s", e.logs)
	}
}

// rawRequest sends a request exactly as written, path bytes unchanged (the
// Go client would refuse or clean some of them), and returns the status
// and the body.
func rawRequest(t *testing.T, base, method, path, body string, gzip bool) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: %d\r\n", method, path, len(body))
	if gzip {
		head += "Content-Encoding: gzip\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

func TestABodyOverTheLimitIs413AndStoresNothing(t *testing.T) {
	e := newEnv(t, envOptions{limits: func(l *config.Server) { l.MaxBodyBytes = 4096 }})
	body := jsonl(records(1, 100)) // about 17 KiB
	before := e.state()
	// With a Content-Length the answer comes before the body is read;
	// chunked, it comes when the limit is reached.
	r := e.ingest("orders", body)
	msg, detail, _ := errorOf(t, r)
	if r.code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "server.max_body_bytes") || detail == nil {
		t.Fatalf("over the limit with a length: %d %s", r.code, r.body)
	}
	r = e.do("POST", "/v1/datasets/orders/records", io.MultiReader(strings.NewReader(body)))
	if msg, _, _ := errorOf(t, r); r.code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "nothing was stored") {
		t.Fatalf("over the limit, chunked: %d %s", r.code, r.body)
	}
	if after := e.state(); after != before {
		t.Fatalf("an oversized body changed the database: %s -> %s", before, after)
	}
	if r := e.ingest("orders", jsonl(records(1, 10))); r.code != http.StatusOK {
		t.Fatalf("a body under the limit: %d %s", r.code, r.body)
	}
}

func TestBadRecordsAre400NamingTheLineAndStoreNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	recs := records(1, 5)
	recs[2] = `{"order_id": 3, "status": "PAID"` // line 3 is cut short
	before := e.state()
	r := e.ingest("orders", jsonl(recs))
	msg, _, _ := errorOf(t, r)
	if r.code != http.StatusBadRequest || !strings.Contains(msg, "line 3") || !strings.Contains(msg, "nothing was stored") {
		t.Fatalf("a bad line 3: %d %q", r.code, msg)
	}
	r = e.ingest("orders", "["+strings.Join(records(1, 3), ",")+`, "x"]`)
	if msg, _, _ := errorOf(t, r); r.code != http.StatusBadRequest || !strings.Contains(msg, "record 4") {
		t.Fatalf("a bad array element 4: %d %q", r.code, msg)
	}
	if after := e.state(); after != before {
		t.Fatalf("bad records changed the database: %s -> %s", before, after)
	}
}
