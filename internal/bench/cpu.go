package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 10 * time.Millisecond

// pgCPU is the CPU time the whole cluster has used so far: the postmaster's
// own and that of its exited children (cutime, cstime) plus its live
// children's (backends, checkpointer, walwriter, ...). The difference of two
// readings is what PostgreSQL spent in between, whichever backend did it.
func pgCPU(dataDir string) time.Duration {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return 0
	}
	// A child reaped while the children are read would be missed by both
	// sums: read again until the postmaster's reaped total holds still.
	var total int64
	for range 10 {
		before, ok := procStat(pm)
		if !ok {
			return 0
		}
		total = before.utime + before.stime + before.cutime + before.cstime + childrenCPU(pm)
		if after, ok := procStat(pm); ok && after.cutime+after.cstime == before.cutime+before.cstime {
			break
		}
	}
	return time.Duration(total) * clockTick
}

// childrenCPU sums the user+system ticks of pid's live (or not yet reaped)
// children.
func childrenCPU(pid int) int64 {
	var total int64
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		n, _ := strconv.Atoi(filepath.Base(p))
		if c, ok := procStat(n); ok && c.ppid == int64(pid) {
			total += c.utime + c.stime
		}
	}
	return total
}

type statFields struct{ ppid, utime, stime, cutime, cstime int64 }

// procStat reads /proc/PID/stat (fields 4 and 14 to 17).
func procStat(pid int) (statFields, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return statFields{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return statFields{}, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return statFields{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return statFields{ppid: n(4), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, true
}

// machineBusy is the CPU time all processes of the machine have used so
// far (user, nice, system, irq, softirq and steal of every CPU).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // cpu user nice system idle iowait irq softirq steal
	var ticks int64
	for i, v := range f {
		if i == 0 || i == 4 || i == 5 || i > 8 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// meter takes the readings a sample is the difference of.
type meter struct {
	t              time.Time
	pg, self, busy time.Duration
	dataDir        string
}

// startMeter takes the readings before a measurement (quiesce first).
func startMeter(dataDir string) meter {
	quiesce()
	return meter{dataDir: dataDir, pg: pgCPU(dataDir), self: selfCPU(), busy: machineBusy(), t: time.Now()}
}

// quiesce gives this process's free memory back and resets its peak RSS
// before a measured child starts: a child reports its parent's peak RSS
// as its own (it runs in its parent's memory until it executes, and Linux
// counts that memory's high-water mark), so every child's peak is its own.
func quiesce() {
	debug.FreeOSMemory()
	resetPeakRSS()
}

// stop fills the sample's wall and CPU times. client is the CPU time of the
// child process measured, or -1 when the work ran in this process.
func (m meter) stop(s *sample, client time.Duration) {
	s.Wall = time.Since(m.t)
	s.PGCPU = pgCPU(m.dataDir) - m.pg
	s.ClientCPU = client
	if client < 0 {
		s.ClientCPU = selfCPU() - m.self
	}
	s.OtherCPU = max(0, machineBusy()-m.busy-s.PGCPU-s.ClientCPU)
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phases is where a `strata archive` run's time went, from the durations
// PostgreSQL logged for its statements (log_min_duration_statement).
type phases struct {
	CountDays time.Duration // the plan: the days before the cutoff (counted, or probed on the index)
	Select    time.Duration // the day's SELECT, streamed while Parquet is written
	Delete    time.Duration // the DELETE of the archived rows
	Commit    time.Duration
	Other     time.Duration // logged statements of none of the kinds above
}

var durationLine = regexp.MustCompile(`duration: ([0-9.]+) ms\s+(?:execute [^:]*|statement|bind [^:]*|parse [^:]*): (.*)$`)

// readPhases classifies the statements logged in the server log after offset.
func readPhases(path string, offset int64) phases {
	var p phases
	f, err := os.Open(path)
	if err != nil {
		return p
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return p
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := durationLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		d := time.Duration(ms * float64(time.Millisecond))
		switch q := strings.TrimSpace(m[2]); {
		case strings.HasPrefix(q, "SELECT date_trunc('day'"), strings.HasPrefix(q, "WITH RECURSIVE days"):
			p.CountDays += d
		case strings.HasPrefix(q, `SELECT "id"`):
			p.Select += d
		case strings.HasPrefix(q, "DELETE"):
			p.Delete += d
		case strings.HasPrefix(q, "COMMIT"), strings.HasPrefix(q, "commit"):
			p.Commit += d
		default:
			p.Other += d
		}
	}
	return p
}
