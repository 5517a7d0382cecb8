package audit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/audit"
)

// helperEnv, when set to a database URL, makes the test binary an
// appender process (see appenderProcess) instead of running the tests.
const helperEnv = "STRATA_AUDIT_TEST_APPENDER_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(helperEnv); url != "" {
		n, _ := strconv.Atoi(os.Getenv("STRATA_AUDIT_TEST_APPENDS"))
		if err := appenderProcess(url, os.Getenv("STRATA_AUDIT_TEST_NAME"), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// appenderProcess appends n records as name, four goroutines at a time.
func appenderProcess(url, name string, n int) error {
	ctx := actor.With(context.Background(), actor.Actor{Name: name, Via: actor.ViaAPI})
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	trail := audit.New(pool, nil, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				if err := trail.Record(ctx, audit.Entry{Action: audit.ActionIngest, Dataset: "orders", Rows: int64(i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Several processes (and goroutines in each) appending at once keep one
// chain: every record is there once, numbered without gaps, each naming
// its predecessor's hash.
func TestConcurrentAppendersInSeveralProcessesKeepOneChain(t *testing.T) {
	w := newWorld(t)
	const procs, each = 4, 60
	var wg sync.WaitGroup
	out := make([][]byte, procs)
	errs := make([]error, procs)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+w.url, "STRATA_AUDIT_TEST_APPENDS="+strconv.Itoa(each),
			fmt.Sprintf("STRATA_AUDIT_TEST_NAME=proc%d", p))
		wg.Go(func() { out[p], errs[p] = cmd.CombinedOutput() })
	}
	w.record(t, context.Background(), 20) // and this process meanwhile
	wg.Wait()
	for p := range procs {
		if errs[p] != nil {
			t.Fatalf("appender %d: %v\n%s", p, errs[p], out[p])
		}
	}
	rep := w.verify(t)
	if !rep.OK() || rep.Records != procs*each+20 || rep.Head.Seq != procs*each+20 {
		t.Fatalf("verify: %d records, head %d, problems %+v", rep.Records, rep.Head.Seq, rep.Problems)
	}
	for p := range procs {
		recs, err := audit.List(context.Background(), w.pool, audit.Filter{Who: fmt.Sprintf("proc%d", p)})
		if err != nil || len(recs) != each {
			t.Errorf("proc%d: %d records, %v", p, len(recs), err)
		}
	}
}
