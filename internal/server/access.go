package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/metrics"
)

// Route is one route of the API and the scope it needs.
type Route struct {
	// Pattern is the http.ServeMux pattern, "GET /v1/catalog".
	Pattern string
	// Scope is what a token needs for it; auth.Public for none.
	Scope auth.Scope
	// page routes answer a browser: a refusal shows the login form.
	page bool
}

// Routes returns every route with its scope, in registration order.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routeList...) }

// handle registers a route of the API: h answers pattern for requests
// that carry a token with scope (and, when the pattern has {dataset},
// allowed that dataset). Every route is registered here, so none can
// forget its scope. A POST (or any unsafe method) that a browser sends
// from another site's page is refused whatever it carries: with no token
// configured the API is open on loopback, and a web page must not be able
// to drive it.
func (s *Server) handle(pattern string, scope auth.Scope, h http.HandlerFunc) {
	s.register(Route{Pattern: pattern, Scope: scope}, h)
}

// handlePage registers a route a browser opens (the console's pages): a request
// without a valid token gets the login form instead of a JSON error.
func (s *Server) handlePage(pattern string, scope auth.Scope, h http.HandlerFunc) {
	s.register(Route{Pattern: pattern, Scope: scope, page: true}, h)
}

func (s *Server) register(rt Route, h http.HandlerFunc) {
	s.routeList = append(s.routeList, rt)
	s.mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := s.crossOrigin.Check(r); err != nil {
			writeError(w, r, &apiError{code: http.StatusForbidden,
				msg: "a browser page of another site may not send this request (cross-origin " + safeMethod(r.Method) + " refused)"})
			return
		}
		tok, err := s.admit(r, rt.Scope)
		if err != nil {
			s.refuse(w, r, rt, err)
			return
		}
		ctx := r.Context()
		if tok != nil {
			ctx = auth.With(ctx, tok)
		}
		h(w, r.WithContext(actor.With(ctx, actorOf(r, tok))))
	})
}

// actorOf is who acts in r: the token's name, or anonymous.
func actorOf(r *http.Request, tok *auth.Token) actor.Actor {
	name := auth.Anonymous
	if tok != nil {
		name = tok.Name
	}
	return actor.Actor{Name: name, Via: actor.ViaHTTP, Addr: clientHost(r)}
}

// clientHost is the client's address without the port.
func clientHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// admit checks r's token against the route's scope and the {dataset} it
// names. It returns the token (nil on a public route or when no token is
// configured) or the refusal: 401, 403 or 429.
func (s *Server) admit(r *http.Request, scope auth.Scope) (*auth.Token, *apiError) {
	if !s.tokens.Enabled() || scope == auth.Public {
		return nil, nil
	}
	secret, present := credentials(r)
	if !present {
		s.metrics.AuthFailure(metrics.AuthMissing)
		return nil, unauthorized("this route needs a token: send Authorization: Bearer TOKEN (strata token create makes one; see docs/HTTP.md, Access)", "")
	}
	if wait, blocked := s.failures.Blocked(r.RemoteAddr); blocked {
		s.metrics.AuthFailure(metrics.AuthRateLimited)
		secs := int(math.Ceil(wait.Seconds()))
		return nil, &apiError{code: http.StatusTooManyRequests, retryAfter: max(secs, 1),
			msg: fmt.Sprintf("too many failed token attempts from your address: retry after %d s", max(secs, 1))}
	}
	tok := s.tokens.Authenticate(secret)
	if tok == nil {
		s.failures.Fail(r.RemoteAddr)
		s.metrics.AuthFailure(metrics.AuthUnknown)
		return nil, unauthorized("the token is not valid (unknown, revoked, or mistyped): send Authorization: Bearer TOKEN with a secret that strata token create printed", "invalid_token")
	}
	if !tok.Has(scope) {
		s.metrics.AuthFailure(metrics.AuthScope)
		return nil, forbidden(fmt.Sprintf("token %q lacks the scope %q that this route needs (add it to the token's scopes in server.tokens)", tok.Name, scope), scope)
	}
	if ds := r.PathValue("dataset"); ds != "" && !tok.MayTouch(ds) {
		s.metrics.AuthFailure(metrics.AuthDataset)
		return nil, datasetForbidden(tok, ds)
	}
	return tok, nil
}

// credentials returns the secret r carries: the Authorization header's
// bearer token, else, on GET and HEAD only, the console's login cookie
// (a cookie never authorises a request that changes something, so a
// forged cross-site POST carries no credential).
func credentials(r *http.Request) (secret string, present bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true // present but unusable: an unknown token
		}
		return strings.TrimSpace(tok), true
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", false
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	return string(b), true
}

// requireDataset refuses (403) a request whose token may not touch the
// dataset ds. Routes whose dataset is not a {dataset} path segment (a
// query parameter, a body field) call it themselves.
func (s *Server) requireDataset(r *http.Request, ds string) error {
	if !s.tokens.Enabled() {
		return nil
	}
	tok := auth.From(r.Context())
	if tok == nil || !tok.MayTouch(ds) {
		s.metrics.AuthFailure(metrics.AuthDataset)
		return datasetForbidden(tok, ds)
	}
	return nil
}

// mayTouch reports whether r may see the dataset ds, for listings that
// leave out what the token may not touch.
func (s *Server) mayTouch(ctx context.Context, ds string) bool {
	if !s.tokens.Enabled() {
		return true
	}
	tok := auth.From(ctx)
	return tok != nil && tok.MayTouch(ds)
}

// requireScope refuses (403) a request whose token lacks scope, for a
// request that needs more than its route's scope (a candidate transform
// in compare needs replay).
func (s *Server) requireScope(r *http.Request, scope auth.Scope, why string) error {
	if !s.tokens.Enabled() {
		return nil
	}
	if tok := auth.From(r.Context()); tok == nil || !tok.Has(scope) {
		s.metrics.AuthFailure(metrics.AuthScope)
		return forbidden(fmt.Sprintf("%s needs a token with the scope %q", why, scope), scope)
	}
	return nil
}

// bearerRealm starts every WWW-Authenticate challenge.
const bearerRealm = `Bearer realm="strata"`

func unauthorized(msg, code string) *apiError {
	challenge := bearerRealm
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	return &apiError{code: http.StatusUnauthorized, msg: msg, challenge: challenge}
}

func forbidden(msg string, scope auth.Scope) *apiError {
	return &apiError{code: http.StatusForbidden, msg: msg, detail: map[string]any{"scope": scope},
		challenge: bearerRealm + `, error="insufficient_scope", scope="` + string(scope) + `"`}
}

func datasetForbidden(tok *auth.Token, ds string) *apiError {
	name := ""
	if tok != nil {
		name = tok.Name
	}
	return &apiError{code: http.StatusForbidden, detail: map[string]any{"dataset": ds},
		challenge: bearerRealm + `, error="insufficient_scope"`,
		msg:       fmt.Sprintf("token %q may not touch dataset %s (add it to the token's datasets in server.tokens)", name, quoteShort(ds))}
}

// refuse answers a request admit turned away: JSON, or the login form on
// a page route.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, rt Route, e *apiError) {
	if rt.page && e.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", e.challenge)
		s.loginPage(w, r, e.code, "")
		return
	}
	writeError(w, r, e)
}
