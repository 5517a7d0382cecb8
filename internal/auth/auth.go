// Package auth decides who may use Strata's HTTP API: bearer tokens from
// server.tokens (the configuration holds the SHA-256 of each secret, never
// the secret), their scopes and datasets, and a limit on failed attempts per
// client address. It knows nothing of HTTP routes; internal/server asks it.
//
// A secret is checked by hashing it and comparing the hash with every
// configured hash in constant time, always all of them, so the time an
// answer takes does not tell which tokens exist or how close a guess was.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/config"
)

// Scope is what a token may do. A route declares the one it needs.
type Scope string

// The scopes (config.TokenScopes lists the same names).
const (
	// Public routes need no token: /healthz, the login form.
	Public Scope = ""
	// Read: retrievals, the catalog, lineage, compare, the console, /metrics.
	Read Scope = "read"
	// Ingest: POST records.
	Ingest Scope = "ingest"
	// Replay: replay, and compare or replay with a candidate transform
	// (SQL of the client's own, run as Strata's database role).
	Replay Scope = "replay"
	// Admin: legal holds, erasure, restore.
	Admin Scope = "admin"
)

// Anonymous is the actor's name for requests when no token is configured
// (serve then listens on loopback only).
const Anonymous = "anonymous"

// Token is one configured token. Its secret is not kept, only the hash.
type Token struct {
	// Name is the configured name: who is acting.
	Name     string
	hash     [sha256.Size]byte
	scopes   []Scope
	datasets []string
	all      bool
}

// Has reports whether t holds scope; every token "holds" Public.
func (t *Token) Has(scope Scope) bool {
	return scope == Public || slices.Contains(t.scopes, scope)
}

// MayTouch reports whether t may touch the dataset named ds.
func (t *Token) MayTouch(ds string) bool {
	return t.all || slices.Contains(t.datasets, ds)
}

// Datasets returns the datasets t may touch; all is true for "*".
func (t *Token) Datasets() (names []string, all bool) {
	return slices.Clone(t.datasets), t.all
}

// Tokens are the configured tokens. The zero value holds none.
type Tokens struct {
	list []Token
}

// NewTokens reads the tokens of a validated configuration.
func NewTokens(cfg []config.Token) Tokens {
	var ts Tokens
	for _, c := range cfg {
		t := Token{Name: c.Name}
		hex.Decode(t.hash[:], []byte(strings.ToLower(c.SHA256))) // validated: 64 hex digits
		for _, s := range c.Scopes {
			t.scopes = append(t.scopes, Scope(s))
		}
		for _, ds := range c.Datasets {
			if ds == config.AllDatasets {
				t.all = true
			} else {
				t.datasets = append(t.datasets, ds)
			}
		}
		ts.list = append(ts.list, t)
	}
	return ts
}

// Enabled reports whether any token is configured; with none the API is
// open (and serve listens on loopback only).
func (ts Tokens) Enabled() bool { return len(ts.list) > 0 }

// Authenticate returns the token whose secret this is, or nil. It hashes
// the secret and compares the hash with every token's in constant time,
// whether or not one already matched.
func (ts Tokens) Authenticate(secret string) *Token {
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range ts.list {
		eq := subtle.ConstantTimeCompare(h[:], ts.list[i].hash[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 || secret == "" {
		return nil
	}
	return &ts.list[found]
}

type ctxKey struct{}

// With returns ctx carrying the token a request authenticated with.
func With(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// From returns the token ctx carries, or nil: no token was configured, or
// the route is public.
func From(ctx context.Context) *Token {
	t, _ := ctx.Value(ctxKey{}).(*Token)
	return t
}
