package scheduler

import (
	"testing"
	"time"
)

func TestRetryDelayDoublesFromTheMinimumUpToTheInterval(t *testing.T) {
	cases := []struct {
		name           string
		interval, base time.Duration
		failures       int
		want           time.Duration
	}{
		{"a success waits the interval", time.Minute, 5 * time.Second, 0, time.Minute},
		{"the first failure waits the minimum", time.Minute, 5 * time.Second, 1, 5 * time.Second},
		{"the second failure waits twice that", time.Minute, 5 * time.Second, 2, 10 * time.Second},
		{"the fourth waits eight times", time.Minute, 5 * time.Second, 4, 40 * time.Second},
		{"the fifth is capped at the interval", time.Minute, 5 * time.Second, 5, time.Minute},
		{"many failures never wait longer than the interval", time.Minute, 5 * time.Second, 1000, time.Minute},
		{"a minimum above the interval waits the interval", time.Second, 5 * time.Second, 1, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := retryDelay(c.interval, c.base, c.failures); got != c.want {
				t.Fatalf("retryDelay(%s, %s, %d) = %s, want %s", c.interval, c.base, c.failures, got, c.want)
			}
		})
	}
}

func TestTheDefaultJitterIsAtMostATenthOfTheIntervalAndAMinute(t *testing.T) {
	for _, iv := range []time.Duration{0, time.Millisecond, time.Second, time.Minute, time.Hour, 30 * 24 * time.Hour} {
		limit := min(iv/10, DefaultMaxJitter)
		for range 1000 {
			if d := defaultJitter(iv); d < 0 || (d >= limit && d != 0) {
				t.Fatalf("defaultJitter(%s) = %s, want in [0, %s)", iv, d, limit)
			}
		}
	}
}
