package auth_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
)

func TestTheScopesAreTheConfigurationsScopes(t *testing.T) {
	ours := []string{string(auth.Read), string(auth.Ingest), string(auth.Replay), string(auth.Admin)}
	if !slices.Equal(ours, config.TokenScopes()) {
		t.Fatalf("auth scopes %v, config scopes %v", ours, config.TokenScopes())
	}
}

func TestASecretAuthenticatesOnlyItsOwnToken(t *testing.T) {
	s1, h1 := auth.NewSecret()
	s2, h2 := auth.NewSecret()
	if s1 == s2 || !strings.HasPrefix(s1, auth.SecretPrefix) || len(s1) != len(auth.SecretPrefix)+43 || auth.Hash(s1) != h1 {
		t.Fatalf("secrets %q %q, hash %s", s1, s2, h1)
	}
	ts := auth.NewTokens([]config.Token{
		{Name: "a", SHA256: h1, Scopes: []string{"read"}, Datasets: []string{"orders"}},
		{Name: "b", SHA256: strings.ToUpper(h2), Scopes: []string{"ingest", "admin"}, Datasets: []string{"*"}},
	})
	if !ts.Enabled() || auth.NewTokens(nil).Enabled() {
		t.Fatal("Enabled")
	}
	a, b := ts.Authenticate(s1), ts.Authenticate(s2)
	if a == nil || a.Name != "a" || b == nil || b.Name != "b" {
		t.Fatalf("authenticated %v %v", a, b)
	}
	for _, bad := range []string{"", s1 + " ", s1[:len(s1)-1], h1, strings.ToUpper(s1)} {
		if tok := ts.Authenticate(bad); tok != nil {
			t.Errorf("%q authenticated as %s", bad, tok.Name)
		}
	}
	if !a.Has(auth.Read) || a.Has(auth.Ingest) || !a.Has(auth.Public) || !a.MayTouch("orders") || a.MayTouch("customers") {
		t.Fatalf("token a: %+v", a)
	}
	if b.Has(auth.Read) || !b.Has(auth.Admin) || !b.MayTouch("anything") {
		t.Fatalf("token b: %+v", b)
	}
}

func TestTheLimiterRefusesAnAddressAfterABurstOfFailuresUntilItWaits(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := auth.NewLimiter(func() time.Time { return now })
	for i := range auth.FailBurst {
		if _, blocked := l.Blocked("192.0.2.7:4000"); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail(fmt.Sprintf("192.0.2.7:%d", 4000+i)) // any port: the address counts
	}
	wait, blocked := l.Blocked("192.0.2.7:5555")
	if !blocked || wait != auth.FailEvery {
		t.Fatalf("after %d failures: blocked %v, wait %s", auth.FailBurst, blocked, wait)
	}
	if _, blocked := l.Blocked("192.0.2.8:4000"); blocked {
		t.Fatal("another address is blocked too")
	}
	now = now.Add(auth.FailEvery / 2)
	if wait, _ := l.Blocked("192.0.2.7:1"); wait != auth.FailEvery/2 {
		t.Fatalf("half way: wait %s", wait)
	}
	now = now.Add(auth.FailEvery / 2)
	if _, blocked := l.Blocked("192.0.2.7:1"); blocked {
		t.Fatal("still blocked after waiting")
	}
	l.Fail("192.0.2.7:1")
	if _, blocked := l.Blocked("192.0.2.7:1"); !blocked {
		t.Fatal("one more failure after one refill should block again")
	}
}

func TestIPv6AddressesAreLimitedPerSlash64(t *testing.T) {
	l := auth.NewLimiter(func() time.Time { return time.Unix(0, 0) })
	for i := range auth.FailBurst {
		l.Fail(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
	}
	if _, blocked := l.Blocked("[2001:db8:1:2:ffff::1]:80"); !blocked {
		t.Fatal("the same /64 is not blocked")
	}
	if _, blocked := l.Blocked("[2001:db8:1:3::1]:80"); blocked {
		t.Fatal("another /64 is blocked")
	}
	if _, blocked := l.Blocked("[::ffff:192.0.2.1]:80"); blocked {
		t.Fatal("an IPv4-mapped address is blocked")
	}
}

func TestPastMaxTrackedAddressesNewOnesShareOneLimit(t *testing.T) {
	l := auth.NewLimiter(func() time.Time { return time.Unix(0, 0) })
	for i := range auth.MaxTracked {
		l.Fail(fmt.Sprintf("10.%d.%d.1:1", i>>8, i&255))
	}
	for i := range auth.FailBurst {
		l.Fail(fmt.Sprintf("172.16.0.%d:1", i))
	}
	if _, blocked := l.Blocked("172.16.1.1:1"); !blocked {
		t.Fatal("an untracked address is not limited once the limiter is full")
	}
	if _, blocked := l.Blocked("10.0.0.1:1"); blocked {
		t.Fatal("a tracked address shares the overflow's limit")
	}
}
