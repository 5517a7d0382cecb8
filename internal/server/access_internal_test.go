package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
)

// TestTheActorOfARequestIsItsTokensName checks what the audit trail reads:
// the token's name, the http door and the client's address; anonymous
// when no token is configured.
func TestTheActorOfARequestIsItsTokensName(t *testing.T) {
	secret, sha := auth.NewSecret()
	tests := []struct {
		name   string
		tokens []config.Token
		header string
		want   actor.Actor
	}{
		{"a token's name", []config.Token{{Name: "alice", SHA256: sha, Scopes: []string{"read"}, Datasets: []string{"orders"}}},
			"Bearer " + secret, actor.Actor{Name: "alice", Via: actor.ViaHTTP, Addr: "192.0.2.9"}},
		{"anonymous without tokens", nil, "", actor.Actor{Name: auth.Anonymous, Via: actor.ViaHTTP, Addr: "192.0.2.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(nil, Options{Limits: config.Server{Tokens: tt.tokens}})
			var got actor.Actor
			var tok *auth.Token
			s.handle("GET /probe/{dataset}", auth.Read, func(w http.ResponseWriter, r *http.Request) {
				got, tok = actor.From(r.Context()), auth.From(r.Context())
			})
			req := httptest.NewRequest("GET", "/probe/orders", nil)
			req.RemoteAddr = "192.0.2.9:5123"
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || got != tt.want {
				t.Fatalf("status %d, actor %+v, want %+v", rec.Code, got, tt.want)
			}
			if (tok != nil) != (tt.tokens != nil) {
				t.Fatalf("token in the context: %v", tok)
			}
		})
	}
}
