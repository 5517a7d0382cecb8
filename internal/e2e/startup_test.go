package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// startupBudget bounds what the package initializers of the strata binary
// allocate before main runs. Every command pays for them; they were 38 MB
// (108 ms of CPU) when iceberg-go's Substrait support parsed every standard
// Substrait extension at start, and are about 6 MB with the subset in
// third_party/substrait. Bytes, unlike milliseconds, do not depend on the
// machine's load.
const startupBudget = 16 << 20

// The strata binary starts without parsing large embedded definitions:
// the bytes its package initializers allocate (GODEBUG=inittrace=1) stay
// within startupBudget, and the test names the heaviest initializers when
// they do not.
func TestTheBinaryStartsWithoutHeavyInitialization(t *testing.T) {
	cmd := exec.Command(strataBin, "--help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("strata --help: %v\n%s", err, stderr.String())
	}
	trace := stderr.String()
	type pkg struct {
		name  string
		bytes int64
	}
	var pkgs []pkg
	var total int64
	sc := bufio.NewScanner(strings.NewReader(trace))
	for sc.Scan() {
		// init PATH @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		b, err := strconv.ParseInt(f[7], 10, 64)
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		pkgs = append(pkgs, pkg{f[1], b})
		total += b
	}
	if len(pkgs) < 50 {
		t.Fatalf("read %d package initializers from GODEBUG=inittrace=1, want the binary's hundreds:\n%s", len(pkgs), trace)
	}
	if total > startupBudget {
		slices.SortFunc(pkgs, func(x, y pkg) int { return int(y.bytes - x.bytes) })
		var top strings.Builder
		for _, p := range pkgs[:5] {
			fmt.Fprintf(&top, "\n  %s: %d bytes", p.name, p.bytes)
		}
		t.Fatalf("package initializers allocate %d bytes before main, over the %d budget; the heaviest:%s", total, startupBudget, top.String())
	}
	t.Logf("%d package initializers allocate %d bytes before main", len(pkgs), total)
}
