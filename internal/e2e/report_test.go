package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// envReport names the file the tests write the reliability table to.
const envReport = "STRATA_RELIABILITY_REPORT"

// figure is one row of the reliability table in docs/RELIABILITY.md.
type figure struct {
	// Order sorts the table: scenarios in the order of docs/RELIABILITY.md,
	// whatever order (or parallelism) the tests ran in.
	Order    string
	Scenario string
	Backend  string
	// Runs counts strata archive runs (processes, or in-process runs).
	Runs int
	// Rows is the size of the reference copy of the table.
	Rows int64
	// Lost and Duplicated are the invariant checks' counts ("-" where the
	// scenario destroys archive objects on purpose).
	Lost, Duplicated string
	// Checksum is what verify --deep found: mismatches (and, where damage
	// was injected on purpose, how many were injected).
	Checksum string
	// Orphans is uncommitted objects verify reported and --repair removed.
	Orphans string
	// Retries counts runs that died or failed and were resumed by the next
	// one, plus storage calls repeated by the retry layer.
	Retries int
	Wall    time.Duration
}

// figureTable collects the rows of all tests in this process.
type figureTable struct {
	mu   sync.Mutex
	rows []figure
}

// figures is the one table the tests append to; TestMain writes it out.
var figures = &figureTable{}

func (ft *figureTable) add(t *testing.T, f figure) {
	t.Helper()
	t.Logf("figures: %s", f.markdown())
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.rows = append(ft.rows, f)
}

const figureHeader = "| scenario | backend | runs | rows | lost | duplicated | checksum mismatches | orphans | retries | wall time |\n" +
	"| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |\n"

func (f figure) markdown() string {
	return fmt.Sprintf("| %s | %s | %d | %d | %s | %s | %s | %s | %d | %.1f s |",
		f.Scenario, f.Backend, f.Runs, f.Rows, f.Lost, f.Duplicated, f.Checksum, f.Orphans, f.Retries, f.Wall.Seconds())
}

// write replaces path with the table as Markdown.
func (ft *figureTable) write(path string) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	slices.SortStableFunc(ft.rows, func(a, b figure) int { return strings.Compare(a.Order, b.Order) })
	var b strings.Builder
	b.WriteString(figureHeader)
	for _, f := range ft.rows {
		b.WriteString(f.markdown() + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func itoa(n int) string { return fmt.Sprint(n) }
