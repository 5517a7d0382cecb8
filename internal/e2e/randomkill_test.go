package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// randomKills is how many times each backend's archive run is killed.
var randomKills = map[string]int{backendLocal: 15, backendAzurite: 5, backendS3: 5}

// seed returns STRATA_E2E_SEED, or a fresh seed; either way it is logged so a
// failing sequence of kills can be replayed.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("STRATA_E2E_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_E2E_SEED=%q: %v", v, err)
		}
		s = n
	}
	t.Logf("seed %d (replay with STRATA_E2E_SEED=%d)", s, s)
	return s
}

// TestRandomKillsLoseAndDuplicateNothing starts strata archive again and
// again and SIGKILLs it at a random moment; before each run, late rows
// arrive for a few days that are already archived, so every run has work.
// Then one run finishes and the invariants are checked.
func TestRandomKillsLoseAndDuplicateNothing(t *testing.T) {
	for i, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			randomKillsOn(t, backend, "2-"+strconv.Itoa(i))
		})
	}
}

func randomKillsOn(t *testing.T, backend, order string) {
	rng := rand.New(rand.NewPCG(seed(t), 0))
	start := time.Now()
	w := newWorld(t, backend)
	// 40 days of 5000 rows; retention 5d archives 34 of them.
	w.createOrders(40, 5000)
	w.takeReference()
	env := withRetention("5d")
	// Each kill lands at a random point of a run: the delay is a random
	// fraction of how long an uninterrupted run took last (at first a guess;
	// the first run archives all 34 days, later ones a few days of late rows),
	// stretched by a quarter after each kill so that work still gets done.
	runTime := time.Second
	killed, id := 0, int64(1_000_000_000)
	for run := range randomKills[backend] {
		if run > 0 {
			for range 3 {
				w.insertLate(6+rng.IntN(34), 1000, id)
				id += 1000
			}
		}
		delay := time.Duration(rng.Float64() * 0.9 * float64(runTime))
		before := w.committedObjects()
		r := w.archiveKilledAfter(delay, env)
		switch {
		case r.killed:
			killed++
			runTime += runTime / 4
		case r.code != 0:
			t.Fatalf("run %d (not killed) failed: %s", run, r)
		default:
			runTime = r.wall
		}
		t.Logf("run %d: kill after %s: killed %v; committed objects %d -> %d", run, delay.Round(time.Millisecond),
			r.killed, before, w.committedObjects())
	}
	if killed < randomKills[backend]/3 {
		t.Errorf("only %d of %d runs were killed before they finished: the kills test little", killed, randomKills[backend])
	}
	w.mustSucceed(env, "archive")
	o := w.checkInvariants()
	figures.add(t, w.figure(order, "random kill -9 ("+strconv.Itoa(killed)+" kills)", o, killed, start))
}
