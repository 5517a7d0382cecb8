package openlineage

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// collector is an OpenLineage endpoint that keeps what it receives.
type collector struct {
	mu     sync.Mutex
	events [][]byte
	status int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	c.events = append(c.events, body)
	if c.status != 0 {
		w.WriteHeader(c.status)
		return
	}
	w.WriteHeader(http.StatusCreated) // what Marquez answers
}

func (c *collector) received() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.events...)
}

func sampleEvent(t EventType, run int64) *RunEvent {
	f := Facets{}
	return &RunEvent{
		EventType: t, EventTime: time.Date(2024, 11, 1, 9, 0, 0, 0, time.UTC),
		Run: Run{RunID: RunID("postgres://db:5432/app/strata.runs/" + string(rune('0'+run))),
			Facets: map[string]any{"strata": f.Strata(StrataRunFacet{RunID: run, Kind: "ingest", Dataset: "orders"})}},
		Job:       Job{Namespace: "strata", Name: "strata.ingest.orders", Facets: map[string]any{"jobType": f.JobType("INGEST")}},
		Outputs:   []OutputDataset{{Dataset: Dataset{Namespace: "postgres://db:5432", Name: "app.public.orders"}}},
		Producer:  DefaultProducer,
		SchemaURL: SchemaURL,
	}
}

func closeNow(t *testing.T, e *Emitter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.Close(ctx)
}

func TestEventsReachTheEndpointInOrderAndValidate(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	e := New(Options{URL: srv.URL + "/api/v1/lineage"})
	for run := int64(1); run <= 3; run++ {
		e.Emit(sampleEvent(Start, run))
		e.Emit(sampleEvent(Complete, run))
	}
	closeNow(t, e)
	got := c.received()
	if len(got) != 6 {
		t.Fatalf("endpoint got %d events, want 6", len(got))
	}
	for i, b := range got {
		if err := Validate(b); err != nil {
			t.Errorf("event %d: %v\n%s", i, err, b)
		}
		var ev RunEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if want := []EventType{Start, Complete}[i%2]; ev.EventType != want {
			t.Errorf("event %d is %s, want %s (in emission order)", i, ev.EventType, want)
		}
	}
	if s := e.Stats(); s.Sent != 6 || s.Failed != 0 || s.Dropped != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestEventsAreAppendedToTheFileOneLineEach(t *testing.T) {
	path := filepath.Join(t.TempDir(), "openlineage.jsonl")
	if err := os.WriteFile(path, []byte(`{"earlier":"line"}`+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	e := New(Options{File: path})
	e.Emit(sampleEvent(Start, 7))
	e.Emit(sampleEvent(Fail, 7))
	closeNow(t, e)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || lines[0] != `{"earlier":"line"}` {
		t.Fatalf("file holds %d lines (the first must be kept): %q", len(lines), lines)
	}
	for _, l := range lines[1:] {
		if err := Validate([]byte(l)); err != nil {
			t.Errorf("%v\n%s", err, l)
		}
	}
	if !strings.Contains(lines[2], `"eventType":"FAIL"`) {
		t.Errorf("second event is not the FAIL: %s", lines[2])
	}
	if s := e.Stats(); s.Written != 2 || s.Emitted != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestAnUnreachableEndpointIsCountedNotReturned(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	path := filepath.Join(t.TempDir(), "events.jsonl")
	e := New(Options{URL: "http://" + addr + "/api/v1/lineage", File: path})
	start := time.Now()
	e.Emit(sampleEvent(Start, 1))
	e.Emit(sampleEvent(Complete, 1))
	if d := time.Since(start); d > time.Second {
		t.Errorf("Emit took %s with the endpoint down", d)
	}
	closeNow(t, e)
	if s := e.Stats(); s.Failed != 2 || s.Sent != 0 || s.Written != 2 {
		t.Errorf("stats = %+v, want 2 failed sends and 2 file lines", s)
	}
}

func TestAnEndpointThatRefusesIsCounted(t *testing.T) {
	c := &collector{status: http.StatusUnprocessableEntity}
	srv := httptest.NewServer(c)
	defer srv.Close()
	e := New(Options{URL: srv.URL})
	e.Emit(sampleEvent(Start, 1))
	closeNow(t, e)
	if s := e.Stats(); s.Failed != 1 || s.Sent != 0 {
		t.Errorf("stats = %+v, want the 422 counted as failed", s)
	}
}

func TestAHangingEndpointHoldsUpNeitherEmitNorClose(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	e := New(Options{URL: srv.URL, Timeout: time.Minute, QueueSize: 2})
	start := time.Now()
	for i := range 5 {
		e.Emit(sampleEvent(Start, int64(i)))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Emit waited %s for a hanging endpoint", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	e.Close(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s past its deadline", d)
	}
	s := e.Stats()
	if s.Sent != 0 || s.Failed+s.Dropped != 5 {
		t.Errorf("stats = %+v, want all 5 failed or dropped", s)
	}
	e.Emit(sampleEvent(Complete, 9)) // after Close: dropped, no panic
	if e.Stats().Dropped != s.Dropped+1 {
		t.Error("an event after Close is not counted as dropped")
	}
}

func TestAFileThatCannotBeWrittenIsCounted(t *testing.T) {
	e := New(Options{File: filepath.Join(t.TempDir(), "no", "such", "folder", "events.jsonl")})
	e.Emit(sampleEvent(Start, 1))
	if s := e.Stats(); s.Failed != 1 || s.Written != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestNoDestinationMeansNoEmitter(t *testing.T) {
	var e *Emitter = New(Options{})
	if e != nil {
		t.Fatal("New with no destination returned an emitter")
	}
	e.Emit(sampleEvent(Start, 1)) // a nil emitter does nothing
	e.Close(context.Background())
	if e.Stats() != (Stats{}) {
		t.Error("nil emitter has stats")
	}
}

func TestRunIDIsAVersion5UUIDOfTheRunURL(t *testing.T) {
	// The reference value comes from Python:
	// uuid.uuid5(uuid.NAMESPACE_URL, 'postgres://db.example.com:5432/app/strata.runs/42')
	got := RunID("postgres://db.example.com:5432/app/strata.runs/42")
	if want := "04d37b37-ae4d-57b7-ba2f-560ba03728f9"; got != want {
		t.Errorf("RunID = %s, want %s", got, want)
	}
	if RunID("postgres://db.example.com:5432/app/strata.runs/43") == got {
		t.Error("two runs share an id")
	}
}

func TestValidateNamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name, event, want string
	}{
		{"no run id", `{"eventType":"START","eventTime":"2024-11-01T00:00:00Z","run":{},"job":{"namespace":"n","name":"j"},"producer":"https://x.org","schemaURL":"https://x.org/s"}`,
			"run.runId is missing or not a lower-case UUID"},
		{"no job name", `{"eventType":"START","eventTime":"2024-11-01T00:00:00Z","run":{"runId":"04d37b37-ae4d-57b7-ba2f-560ba03728f9"},"job":{"namespace":"n"},"producer":"https://x.org","schemaURL":"https://x.org/s"}`,
			"job.namespace and job.name are required"},
		{"a bad event type", `{"eventType":"DONE","eventTime":"2024-11-01T00:00:00Z","run":{"runId":"04d37b37-ae4d-57b7-ba2f-560ba03728f9"},"job":{"namespace":"n","name":"j"},"producer":"https://x.org","schemaURL":"https://x.org/s"}`,
			`eventType "DONE" is not START, RUNNING, COMPLETE, ABORT, FAIL or OTHER`},
		{"a facet without _producer", `{"eventType":"START","eventTime":"2024-11-01T00:00:00Z","run":{"runId":"04d37b37-ae4d-57b7-ba2f-560ba03728f9","facets":{"x":{"a":1}}},"job":{"namespace":"n","name":"j"},"producer":"https://x.org","schemaURL":"https://x.org/s"}`,
			`run facet "x" needs _producer and _schemaURL URIs`},
		{"no schemaURL", `{"eventType":"START","eventTime":"2024-11-01T00:00:00Z","run":{"runId":"04d37b37-ae4d-57b7-ba2f-560ba03728f9"},"job":{"namespace":"n","name":"j"},"producer":"https://x.org"}`,
			`schemaURL "" is not an absolute URI`},
		{"a dataset without a name", `{"eventType":"START","eventTime":"2024-11-01T00:00:00Z","run":{"runId":"04d37b37-ae4d-57b7-ba2f-560ba03728f9"},"job":{"namespace":"n","name":"j"},"outputs":[{"namespace":"s3://b"}],"producer":"https://x.org","schemaURL":"https://x.org/s"}`,
			"outputs[0]: namespace and name are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.event))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate = %v, want %s", err, tt.want)
			}
		})
	}
	b, _ := json.Marshal(sampleEvent(Start, 1))
	if err := Validate(b); err != nil {
		t.Errorf("a good event: %v", err)
	}
}
