package server

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/metrics"
)

// Routes of the console's sign-in: a browser cannot send a bearer
// header by itself, so the login form puts the token in a cookie that
// GET requests present instead (see credentials).
const (
	routeLogin  = "POST /login"
	routeLogout = "POST /logout"
	// cookieName holds the token, base64url-encoded: HttpOnly (no script
	// reads it), SameSite=Strict (no other site's page sends it), Secure
	// over TLS.
	cookieName = "strata_token"
	// cookieMaxAge is how long a browser keeps the sign-in, in seconds.
	cookieMaxAge = 12 * 60 * 60
	// maxLoginBody bounds the login form.
	maxLoginBody = 4096
)

// pageCSP is the Content-Security-Policy of the console's pages and the login
// form: nothing but their own inline style, the console's one script
// from the server itself, and forms posting to the server itself.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// handleLogin checks the token of the login form and, when it is valid,
// sets the cookie and goes back to the console. Failed attempts count
// against the client's address like a bad bearer token.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.tokens.Enabled() {
		http.Redirect(w, r, "/", http.StatusSeeOther) // no tokens: the console is open
		return
	}
	if wait, blocked := s.failures.Blocked(r.RemoteAddr); blocked {
		s.metrics.AuthFailure(metrics.AuthRateLimited)
		secs := max(int(math.Ceil(wait.Seconds())), 1)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		s.loginPage(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts from your address: wait %d s.", secs))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	secret := strings.TrimSpace(r.PostFormValue("token"))
	if s.tokens.Authenticate(secret) == nil {
		s.failures.Fail(r.RemoteAddr)
		s.metrics.AuthFailure(metrics.AuthUnknown)
		w.Header().Set("WWW-Authenticate", bearerRealm+`, error="invalid_token"`)
		s.loginPage(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString([]byte(secret)),
		Path: "/", MaxAge: cookieMaxAge, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleLogout forgets the cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginPage answers with the login form, status code and a message.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.render(w, r, code, page{Title: "Sign in", Page: "login", Now: time.Now().UTC(), Login: true, LoginError: msg})
}

// writePage sends an HTML page with the headers that keep it from being
// cached, sniffed, framed or made to load anything.
func writePage(w http.ResponseWriter, code int, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(code)
	w.Write(page)
}
