package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/testenv"
)

// serveWorld is a world whose strata.yaml configures some of the demo
// datasets with Layer 3, a transform and Layer 2, for `strata serve` under
// HTTP load. Every record the tests send carries a "req" field naming its
// request, so the rows of a request can be found in every layer.
type serveWorld struct {
	*world
	datasets []demo.Dataset
}

// newServeWorld makes a local-disk world with the named demo datasets,
// their empty Layer 3 and Layer 2 tables and a config with batchMaxRows and
// groupWait (the new source.group_wait; "" leaves the default).
func newServeWorld(t *testing.T, names []string, batchMaxRows int, groupWait string) *serveWorld {
	t.Helper()
	var datasets []demo.Dataset
	var entries []testenv.Dataset
	for _, name := range names {
		datasets = append(datasets, testenv.Example(t, name))
		ds := testenv.Dataset{Name: name, Source: true, BatchMaxRows: batchMaxRows, Transform: "transforms/" + name + ".sql",
			SourceExtra: "payload_column: raw_data\nprocessed_column: processed"}
		if groupWait != "" {
			ds.SourceExtra += "\ngroup_wait: " + groupWait
		}
		entries = append(entries, ds)
	}
	return &serveWorld{world: newWorldOf(t, backendLocal, entries...), datasets: datasets}
}

// requestRecords returns n JSON lines for ds, each tagged with "req": req.
func requestRecords(ds demo.Dataset, req int64, n int, rng *rand.Rand) []byte {
	var b bytes.Buffer
	for _, r := range demo.Records(ds, req*int64(n), n, time.Now(), rng) {
		fmt.Fprintf(&b, `{"req": %d, %s`+"\n", req, bytes.TrimPrefix(r, []byte("{")))
	}
	return b.Bytes()
}

// serveProc is a running `strata serve`.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	done   chan struct{}
}

// startServe runs `strata serve --listen 127.0.0.1:0 --no-scheduler` with
// env and waits for the address it prints.
func (w *world) startServe(env []string) *serveProc {
	w.t.Helper()
	cmd := exec.Command(strataBin, "serve", "--config", w.config, "--listen", "127.0.0.1:0", "--no-scheduler")
	cmd.Env = append(slices.Clone(w.env), env...)
	cmd.Dir = w.dir
	p := &serveProc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start strata serve: %v", err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case s := <-line:
		u, ok := strings.CutPrefix(strings.TrimSpace(s), "strata: serving on ")
		if !ok {
			p.kill()
			w.t.Fatalf("strata serve printed %q, not its address; stderr:\n%s", s, tail(p.stderr.String(), 4000))
		}
		p.url = u
	case <-time.After(30 * time.Second):
		p.kill()
		w.t.Fatalf("strata serve did not print its address within 30 s")
	}
	w.t.Cleanup(p.kill)
	return p
}

// kill SIGKILLs the process and waits for it to end.
func (p *serveProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
		t.Errorf("strata serve did not stop within a minute of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("strata serve exited %d after SIGTERM; stderr:\n%s", code, tail(p.stderr.String(), 4000))
	}
}

// ingestAnswer is the part of an ingest's JSON answer the tests read.
type ingestAnswer struct {
	Records  int64  `json:"records"`
	Received int64  `json:"received"`
	Replayed bool   `json:"replayed"`
	Error    string `json:"error"`
}

// posted is one ingest request as a client saw it.
type posted struct {
	dataset    string
	req        int64
	records    int
	sent, done time.Time
	status     int
	answer     ingestAnswer
	err        error
}

// postRecords posts body to the dataset's records route, with an
// Idempotency-Key header when key is not empty.
func postRecords(ctx context.Context, c *http.Client, base, dataset, key string, body []byte) (int, ingestAnswer, error) {
	var a ingestAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/datasets/"+dataset+"/records", bytes.NewReader(body))
	if err != nil {
		return 0, a, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, a, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return resp.StatusCode, a, fmt.Errorf("answer %d is not JSON: %q", resp.StatusCode, truncateBytes(b, 300))
	}
	return resp.StatusCode, a, nil
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
