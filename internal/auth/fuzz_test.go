package auth_test

import (
	"testing"
	"time"

	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
)

// FuzzLimiterAddresses feeds the limiter any RemoteAddr: it never panics,
// and an address that failed FailBurst times is blocked.
func FuzzLimiterAddresses(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "[::1]:443", "[fe80::1%eth0]:1", "192.0.2.1", "", "::ffff:1.2.3.4", "x:y:z", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		l := auth.NewLimiter(func() time.Time { return time.Unix(0, 0) })
		for range auth.FailBurst {
			if _, blocked := l.Blocked(addr); blocked {
				t.Fatalf("%q blocked too early", addr)
			}
			l.Fail(addr)
		}
		if _, blocked := l.Blocked(addr); !blocked {
			t.Fatalf("%q not blocked after %d failures", addr, auth.FailBurst)
		}
	})
}

// FuzzAuthenticate checks that no input but the secret authenticates.
func FuzzAuthenticate(f *testing.F) {
	secret, sha := auth.NewSecret()
	toks := auth.NewTokens([]config.Token{{Name: "a", SHA256: sha, Scopes: []string{"read"}}})
	f.Add("")
	f.Add(secret[:len(secret)-1])
	f.Add("Bearer " + secret)
	f.Fuzz(func(t *testing.T, guess string) {
		if tok := toks.Authenticate(guess); (tok != nil) != (guess == secret) {
			t.Fatalf("Authenticate(%q) = %v", guess, tok)
		}
	})
}
