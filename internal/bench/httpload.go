package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stratahq/strata/internal/demo"
)

// HTTP load: `strata serve` (a second process) on 127.0.0.1, driven by
// -http-clients goroutines of this process for -http-duration per load.
const (
	ingestBatch = 100 // records per ingest request
)

// httpResults are the loads' results and the check of what ingest stored.
type httpResults struct {
	loads    []*loadResult
	stored   int64 // processed records in source_orders after the loads
	answered int64 // records the 200 answers counted, the warm-up included
}

// loadResult is one kind of request of one load.
type loadResult struct {
	load, kind string // load: retrieval, ingest or mixed; kind: retrieval or ingest
	clients    int
	wall       time.Duration
	requests   int64
	errors     int64
	errSamples []string
	items      int64 // rows retrieved or records ingested
	bytes      int64 // response bytes (retrieval) or request bytes (ingest)
	lat        []time.Duration
	serverCPU  time.Duration // strata serve, user+system, during the load
	pgCPU      time.Duration
	otherCPU   time.Duration // everything else, this process (the clients) included
	serverRSS  int64         // strata serve's peak RSS at the end of the load
}

// worker makes one request and reports its items and bytes, or an error.
type worker struct {
	kind string
	do   func(ctx context.Context, c *http.Client, i int) (items, bytes int64, err error)
}

// httpLoad starts strata serve on the readings archive plus the orders
// example (for ingest), and runs a retrieval load, an ingest load and both
// at once.
func (b *bench) httpLoad(ctx context.Context, d *retrData) (*httpResults, error) {
	ds := demo.Datasets[2]
	if _, err := b.pg.pool.Exec(ctx, `DROP TABLE IF EXISTS orders, source_orders`); err != nil {
		return nil, err
	}
	if err := demo.Create(ctx, b.pg.pool, ds, 0); err != nil {
		return nil, err
	}
	if err := demo.CreateSource(ctx, b.pg.pool, ds); err != nil {
		return nil, err
	}
	tr, err := filepath.Abs("transforms/orders.sql")
	if err != nil {
		return nil, err
	}
	cfg, err := b.writeReadingsConfig("strata-serve.yaml", d.dir, ordersDataset(tr)+`server:
  scheduler: "off"
`)
	if err != nil {
		return nil, err
	}
	srv, err := b.startServe(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	ret, err := b.retrievalWorker(ctx, d, srv.url)
	if err != nil {
		return nil, err
	}
	ing := ingestWorker(srv.url, ingestBatch)
	out := &httpResults{answered: ingestBatch} // the ingest load's warm-up request
	for _, l := range []struct {
		name    string
		workers []worker
	}{
		{"retrieval", []worker{ret}},
		{"ingest", []worker{ing}},
		{"mixed", []worker{ret, ing}},
	} {
		res, err := b.runLoad(ctx, srv, l.name, l.workers, b.httpClients, b.httpDuration)
		if err != nil {
			return nil, err
		}
		out.loads = append(out.loads, res...)
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	for _, r := range out.loads {
		if r.kind == "ingest" {
			out.answered += r.items
		}
	}
	err = b.pg.pool.QueryRow(ctx, `SELECT count(*) FROM source_orders WHERE processed`).Scan(&out.stored)
	return out, err
}

// serveProc is a running `strata serve`.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	log  *os.File
	once sync.Once
	err  error
}

// startServe runs `strata serve --listen 127.0.0.1:0 --no-scheduler` and
// waits for the address it prints.
func (b *bench) startServe(ctx context.Context, cfg string) (*serveProc, error) {
	logf, err := os.Create(filepath.Join(b.state, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, b.strata, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--no-scheduler")
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &serveProc{cmd: cmd, log: logf}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
	}()
	select {
	case s := <-line:
		u, ok := strings.CutPrefix(strings.TrimSpace(s), "strata: serving on ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("strata serve printed %q, not its address (log: %s)", s, logf.Name())
		}
		p.url = u
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("strata serve did not print its address within 30 s (log: %s)", logf.Name())
	}
	b.step("strata serve listening on %s (pid %d, log %s)", p.url, cmd.Process.Pid, logf.Name())
	return p, nil
}

// stop sends SIGTERM and waits; serve exits 0 after a clean shutdown.
func (p *serveProc) stop() error {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		p.err = p.cmd.Wait()
		p.log.Close()
		if p.err != nil {
			p.err = fmt.Errorf("strata serve: %w (log: %s)", p.err, p.log.Name())
		}
	})
	return p.err
}

// cpu returns serve's user+system time so far and its peak RSS.
func (p *serveProc) cpu() (time.Duration, int64) {
	st, ok := procStat(p.cmd.Process.Pid)
	if !ok {
		return 0, 0
	}
	var rss int64
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Sscanf(strings.TrimSpace(v), "%d", &rss)
				rss *= 1024
			}
		}
	}
	return time.Duration(st.utime+st.stime) * clockTick, rss
}

// retrievalWorker asks for one hour of one day (3 columns, jsonl), a
// different hour and day each request, and checks the row count against
// the template.
func (b *bench) retrievalWorker(ctx context.Context, d *retrData, base string) (worker, error) {
	want := map[int64]int64{} // Unix time of the hour -> rows
	rows, err := b.pg.pool.Query(ctx, `SELECT date_trunc('hour', `+rTimeCol+`), count(*) FROM `+rTemplate+` GROUP BY 1`)
	if err != nil {
		return worker{}, err
	}
	for rows.Next() {
		var h time.Time
		var n int64
		if err := rows.Scan(&h, &n); err != nil {
			return worker{}, err
		}
		want[h.Unix()] = n
	}
	if err := rows.Err(); err != nil {
		return worker{}, err
	}
	hours := d.days * 24
	return worker{kind: "retrieval", do: func(ctx context.Context, c *http.Client, i int) (int64, int64, error) {
		h := d.day0.Add(time.Duration((i*7919)%hours) * time.Hour) // 7919 is prime: every hour in turn, days mixed
		q := url.Values{"from": {h.Format(time.RFC3339)}, "to": {h.Add(time.Hour - time.Microsecond).Format(time.RFC3339Nano)},
			"columns": {"ts,device_id,value"}}
		body, err := request(ctx, c, http.MethodGet, base+"/v1/datasets/readings/archive/analytics?"+q.Encode(), nil)
		if err != nil {
			return 0, 0, err
		}
		n := int64(bytes.Count(body, []byte{'\n'}))
		if n != want[h.Unix()] {
			return n, int64(len(body)), fmt.Errorf("%s: %d rows, want %d", h.Format(time.RFC3339), n, want[h.Unix()])
		}
		return n, int64(len(body)), nil
	}}, nil
}

// ingestWorker posts batches of n orders records of about 1 KB (JSON
// lines), from a set of prepared bodies, and checks that the answer counts
// them all.
func ingestWorker(base string, n int) worker {
	var bodies [][]byte
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 64 {
		var buf bytes.Buffer
		for _, r := range demo.Records(demo.Datasets[2], int64(k*n), n, time.Now(), rng) {
			buf.Write(padRecord(r, rng))
			buf.WriteByte('\n')
		}
		bodies = append(bodies, buf.Bytes())
	}
	return worker{kind: "ingest", do: func(ctx context.Context, c *http.Client, i int) (int64, int64, error) {
		body := bodies[i%len(bodies)]
		resp, err := request(ctx, c, http.MethodPost, base+"/v1/datasets/orders/records", body)
		if err != nil {
			return 0, 0, err
		}
		var ans struct{ Records int64 }
		if err := json.Unmarshal(resp, &ans); err != nil || ans.Records != int64(n) {
			return ans.Records, int64(len(body)), fmt.Errorf("answer %q: want %d records stored", resp, n)
		}
		return ans.Records, int64(len(body)), nil
	}}
}

// request makes one request and returns the whole body; a status other
// than 200 or a broken body is an error.
func request(ctx context.Context, c *http.Client, method, u string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: body: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}
