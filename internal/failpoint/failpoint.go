// Package failpoint lets tests make a strata process fail on purpose at a
// named step of the archive state machine: STRATA_FAILPOINTS=after-upload=kill
// makes the process SIGKILL itself right after the upload. Production code
// calls Hit at each step; with no failpoints set, Hit is a map lookup.
package failpoint

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Steps of the archive state machine, in order.
var Steps = []string{
	"after-plan", "after-extract", "after-intent", "mid-upload", "after-upload",
	"after-verify", "after-stage-all", "in-commit-before-delete", "after-delete", "after-commit",
}

// TableSteps are the failpoints outside the archive state machine:
// before-tables is after a commit, before the lakehouse tables are
// published; iceberg-after-metadata is after an Iceberg publish has stored
// its metadata files, before the catalog commit.
var TableSteps = []string{"before-tables", "iceberg-after-metadata"}

// ErrInjected is returned by Hit for the "error" action.
var ErrInjected = errors.New("failpoint: injected failure")

// Set maps step names to actions: "kill" (SIGKILL this process), "error"
// (return ErrInjected), or "sleep:DURATION", each performed at the step's
// first hit, at its Nth with the suffix "@N" ("after-verify=kill@3": at
// the third day's verification), or at every hit with "@every"
// ("after-verify=sleep:150ms@every": before each object's commit).
type Set struct {
	actions map[string]string
	at      map[string]int64 // the hit to act at; every (0): all of them
	hits    map[string]*atomic.Int64
}

// every in Set.at: act at every hit.
const every = 0

// Parse reads a spec such as "after-upload=kill,after-plan=sleep:2s".
func Parse(spec string) (Set, error) {
	s := Set{actions: map[string]string{}, at: map[string]int64{}, hits: map[string]*atomic.Int64{}}
	if strings.TrimSpace(spec) == "" {
		return s, nil
	}
	known := map[string]bool{}
	for _, st := range append(slices.Clone(Steps), TableSteps...) {
		known[st] = true
	}
	for _, part := range strings.Split(spec, ",") {
		name, action, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !known[name] {
			return s, fmt.Errorf("STRATA_FAILPOINTS: %q: want step=action with step one of %s", part, strings.Join(append(slices.Clone(Steps), TableSteps...), ", "))
		}
		s.at[name], s.hits[name] = 1, new(atomic.Int64)
		if a, n, ok := strings.Cut(action, "@"); ok {
			at, err := strconv.ParseInt(n, 10, 64)
			switch {
			case n == "every":
				at = every
			case err != nil || at < 1:
				return s, fmt.Errorf("STRATA_FAILPOINTS: %q: @%s: want the hit to act at, a number from 1, or every", part, n)
			}
			action, s.at[name] = a, at
		}
		if action != "kill" && action != "error" && !strings.HasPrefix(action, "sleep:") {
			return s, fmt.Errorf("STRATA_FAILPOINTS: %q: action must be kill, error or sleep:DURATION", part)
		}
		if d, ok := strings.CutPrefix(action, "sleep:"); ok {
			if _, err := time.ParseDuration(d); err != nil {
				return s, fmt.Errorf("STRATA_FAILPOINTS: %q: %w", part, err)
			}
		}
		s.actions[name] = action
	}
	return s, nil
}

// Hit performs the action set for step, if any.
func (s Set) Hit(step string) error {
	action, ok := s.actions[step]
	if !ok {
		return nil
	}
	if n := s.hits[step].Add(1); s.at[step] != every && n != s.at[step] {
		return nil
	}
	switch {
	case action == "kill":
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	case action == "error":
		return fmt.Errorf("%w at %s", ErrInjected, step)
	default:
		d, _ := time.ParseDuration(strings.TrimPrefix(action, "sleep:"))
		time.Sleep(d)
	}
	return nil
}

// String lists the active failpoints.
func (s Set) String() string {
	var parts []string
	for k, v := range s.actions {
		switch {
		case s.at[k] == every:
			v += "@every"
		case s.at[k] > 1:
			v += "@" + strconv.FormatInt(s.at[k], 10)
		}
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
