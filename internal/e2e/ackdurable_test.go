package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyedRequest is one ingest request of the durability test and what
// became of it.
type keyedRequest struct {
	key    string
	body   []byte
	lo, hi int64 // the "rec" fields of its records
	// state: "" not sent yet, "acked" answered 200, "cut" sent and not
	// answered before a kill (its outcome unknown to the client).
	state    string
	replayed bool // its 200 said replayed (a retry of a stored request)
}

// ackLedger is the clients' shared record of the requests.
type ackLedger struct {
	mu       sync.Mutex
	reqs     []*keyedRequest
	timeouts atomic.Int64 // client timeouts retried with the same key
}

func (l *ackLedger) set(r *keyedRequest, state string, replayed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.state = state
	r.replayed = r.replayed || replayed
}

func (l *ackLedger) withState(state string) []*keyedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*keyedRequest
	for _, r := range l.reqs {
		if r.state == state {
			out = append(out, r)
		}
	}
	return out
}

// TestAcknowledgedIngestsSurviveKills runs strata serve under HTTP load
// (12 clients, every request with an Idempotency-Key; half of the clients
// give up after 50 to 300 ms and retry with the same key) and SIGKILLs it
// at random moments, then restarts it. After each kill: every request
// answered 200 has all its records in Layer 3, archived and transformed
// (the sourceViolations checks), and every request cut off by the kill is
// stored whole or not at all. After a restart the cut-off requests are
// retried with their keys and must be answered 200. At the end every
// record sent is in Layer 3, in exactly one committed source object and in
// Layer 2, and none twice.
func TestAcknowledgedIngestsSurviveKills(t *testing.T) {
	const clients, perClient, perRequest, kills = 12, 60, 20, 5
	rng := rand.New(rand.NewPCG(seed(t), 10))
	start := time.Now()
	w := newSourceWorld(t, backendLocal, 100000)
	led := &ackLedger{}
	for i := range clients * perClient {
		recs := w.makeRecords(perRequest)
		r := &keyedRequest{key: fmt.Sprintf("client-%d-request-%d", i%clients, i/clients),
			body: []byte(strings.Join(recs, "\n") + "\n"), lo: w.nextRec - perRequest, hi: w.nextRec - 1}
		led.reqs = append(led.reqs, r)
	}
	killed, cutWhole, cutNone := 0, 0, 0
	for round := 0; round <= kills; round++ {
		p := w.startServe(nil)
		w.runs++
		w.retryCutOff(p, led)
		last := round == kills
		var after time.Duration
		if !last {
			after = time.Duration(150+rng.IntN(750)) * time.Millisecond
		}
		w.loadUntilKilled(p, led, clients, after, rng.Uint64())
		if last {
			w.retryCutOff(p, led)
			p.stop(t)
			break
		}
		killed++
		whole, none := w.checkAckedAndCutOff(led, fmt.Sprintf("after kill %d", killed))
		cutWhole, cutNone = cutWhole+whole, cutNone+none
		t.Logf("kill %d after %s: %d requests answered 200 so far; cut off: %d stored whole, %d not stored", killed, after, len(led.withState("acked")), whole, none)
	}
	if n := len(led.withState("")) + len(led.withState("cut")); n > 0 {
		t.Fatalf("%d requests were never answered 200", n)
	}
	o := w.checkSourceInvariants(true)
	replayed := 0
	for _, r := range led.reqs {
		if r.replayed {
			replayed++
		}
	}
	t.Logf("%d requests, %d kills, %d client timeouts retried, %d answers replayed", len(led.reqs), killed, led.timeouts.Load(), replayed)
	if cutWhole+cutNone == 0 {
		t.Errorf("no request was cut off by %d kills: the kills test little", killed)
	}
	figures.add(t, w.sourceFigure("9-0", fmt.Sprintf("HTTP ingest, %d clients with idempotency keys, serve killed -9 %d times: "+
		"%d requests cut off (%d stored whole, %d not at all; all completed by their retry), %d timeouts retried, %d answers replayed",
		clients, killed, cutWhole+cutNone, cutWhole, cutNone, led.timeouts.Load(), replayed), o, killed+int(led.timeouts.Load()), start))
}

// loadUntilKilled runs the clients over the requests not sent yet until
// they are all answered or, when after > 0, until serve is SIGKILLed after
// that long. Requests in flight at the kill are marked cut.
func (w *sourceWorld) loadUntilKilled(p *serveProc, led *ackLedger, clients int, after time.Duration, seed uint64) {
	w.t.Helper()
	var dead atomic.Bool
	if after > 0 {
		timer := time.AfterFunc(after, func() {
			dead.Store(true)
			p.kill()
		})
		defer timer.Stop()
	}
	todo := make(chan *keyedRequest, len(led.reqs))
	for _, r := range led.withState("") {
		todo <- r
	}
	close(todo)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			timeout := 30 * time.Second
			if c%2 == 0 { // an impatient client
				timeout = time.Duration(50+rng.IntN(250)) * time.Millisecond
			}
			for r := range todo {
				if dead.Load() || !w.send(p, led, r, timeout, &dead) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if after > 0 {
		<-p.done
	}
}

// send posts r until it is answered 200 (retrying with its key after a
// timeout); it returns false when serve was killed meanwhile, r then being
// cut.
func (w *sourceWorld) send(p *serveProc, led *ackLedger, r *keyedRequest, timeout time.Duration, dead *atomic.Bool) bool {
	c := &http.Client{Timeout: timeout}
	for attempt := 0; ; attempt++ {
		status, a, err := postRecords(context.Background(), c, p.url, dataset, r.key, r.body)
		switch {
		case err == nil && status == http.StatusOK && a.Records == int64(r.hi-r.lo+1):
			led.set(r, "acked", a.Replayed)
			return true
		case dead.Load():
			led.set(r, "cut", false)
			return false
		case err != nil && errors.Is(err, context.DeadlineExceeded) || err != nil && strings.Contains(err.Error(), "Client.Timeout"):
			led.timeouts.Add(1)
			if attempt > 200 {
				w.t.Errorf("request %s: still timing out after %d attempts", r.key, attempt)
				return false
			}
		default:
			w.t.Errorf("request %s: status %d, answer %+v, error %v", r.key, status, a, err)
			led.set(r, "cut", false)
			return false
		}
	}
}

// retryCutOff sends the requests cut off by the last kill again, with
// their keys, on a patient client: each must be answered 200.
func (w *sourceWorld) retryCutOff(p *serveProc, led *ackLedger) {
	w.t.Helper()
	var never atomic.Bool
	for _, r := range led.withState("cut") {
		if !w.send(p, led, r, 30*time.Second, &never) {
			w.t.Fatalf("retry of cut-off request %s failed", r.key)
		}
	}
}

// checkAckedAndCutOff checks, right after a kill, that every request
// answered 200 has all its records in Layer 3 once, that every cut-off
// request has all of them or none, and the sourceViolations invariants. It
// returns how many cut-off requests were stored whole and not at all.
func (w *sourceWorld) checkAckedAndCutOff(led *ackLedger, when string) (whole, none int) {
	w.t.Helper()
	for _, state := range []string{"acked", "cut"} {
		for _, r := range led.withState(state) {
			n := w.count(`SELECT count(*) FROM `+srcTable+` WHERE (raw_data->>'rec')::bigint BETWEEN $1 AND $2`, r.lo, r.hi)
			distinct := w.count(`SELECT count(DISTINCT raw_data->>'rec') FROM `+srcTable+` WHERE (raw_data->>'rec')::bigint BETWEEN $1 AND $2`, r.lo, r.hi)
			want := r.hi - r.lo + 1
			switch {
			case n != distinct:
				w.t.Errorf("%s: request %s has records stored twice (%d rows, %d records)", when, r.key, n, distinct)
			case state == "acked" && n != want:
				w.t.Errorf("%s: request %s was answered 200 but %d of its %d records are in Layer 3", when, r.key, n, want)
			case state == "cut" && n != 0 && n != want:
				w.t.Errorf("%s: request %s, cut off by the kill, has %d of its %d records stored: want all or none", when, r.key, n, want)
			case state == "cut" && n == want:
				whole++
			case state == "cut":
				none++
			}
		}
	}
	w.checkConsistent(when, false, true)
	return whole, none
}
