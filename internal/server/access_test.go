package server_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
)

// tokens are the secrets of the tokens withTokens configures, by name.
type tokens map[string]string

// withTokens configures one token per entry: name -> scopes and datasets.
func withTokens(toks tokens, defs map[string]config.Token) func(*config.Server) {
	return func(s *config.Server) {
		for name, d := range defs {
			secret, sha := auth.NewSecret()
			toks[name] = secret
			s.Tokens = append(s.Tokens, config.Token{Name: name, SHA256: sha, Scopes: d.Scopes, Datasets: d.Datasets})
		}
	}
}

// bearer is the header pair of a token's secret.
func bearer(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// publicRoutes are the routes meant to need no token. A route registered
// as auth.Public but missing here fails the test: opening a route is a
// decision to make on purpose.
var publicRoutes = []string{"GET /healthz", "POST /login", "POST /logout"}

// pathOf turns a route pattern into a request: {dataset} is orders, {type}
// analytics, any other wildcard 1.
func pathOf(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	path = strings.ReplaceAll(path, "{dataset}", "orders")
	path = strings.ReplaceAll(path, "{type}", "analytics")
	return method, regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "1")
}

// otherScopes are the scopes a token needs to have everything but scope.
func otherScopes(scope auth.Scope) []string {
	return slices.DeleteFunc(config.TokenScopes(), func(s string) bool { return s == string(scope) })
}

// racingClock runs a minute per reading, so the limit on failed attempts
// never bites a test that fails on purpose many times.
func racingClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return time.Now().Add(time.Duration(n.Add(1)) * time.Minute) }
}

func TestEveryRouteRefusesMissingWrongAndInsufficientTokens(t *testing.T) {
	toks := tokens{}
	defs := map[string]config.Token{"customers-only": {Scopes: config.TokenScopes(), Datasets: []string{"customers"}}}
	for _, sc := range config.TokenScopes() {
		defs["only-"+sc] = config.Token{Scopes: []string{sc}, Datasets: []string{"orders"}}
		defs["all-but-"+sc] = config.Token{Scopes: otherScopes(auth.Scope(sc)), Datasets: []string{"*"}}
	}
	e := newEnv(t, envOptions{limits: withTokens(toks, defs), clock: racingClock()})
	routes := e.srv.Routes()
	if len(routes) < 9 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	for _, rt := range routes {
		method, path := pathOf(rt.Pattern)
		t.Run(rt.Pattern, func(t *testing.T) {
			if rt.Scope == auth.Public {
				if !slices.Contains(publicRoutes, rt.Pattern) {
					t.Fatalf("%s is registered without a scope (auth.Public) but is not one of the public routes %v", rt.Pattern, publicRoutes)
				}
				return
			}
			if !slices.Contains(config.TokenScopes(), string(rt.Scope)) {
				t.Fatalf("%s needs scope %q, which no token can hold", rt.Pattern, rt.Scope)
			}
			refused := func(why string, code int, header ...string) {
				t.Helper()
				r := e.do(method, path, strings.NewReader(""), header...)
				if r.code != code || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="strata"`) {
					t.Fatalf("%s: %d (WWW-Authenticate %q), want %d: %s", why, r.code, r.header.Get("WWW-Authenticate"), code, r.body)
				}
				if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || code != http.StatusUnauthorized {
					if _, _, id := errorOf(t, r); id == "" {
						t.Fatalf("%s: no request id in %s", why, r.body)
					}
				}
			}
			refused("no token", http.StatusUnauthorized)
			refused("unknown token", http.StatusUnauthorized, bearer("strata_not-a-token")...)
			refused("basic auth", http.StatusUnauthorized, "Authorization", "Basic YWxpY2U6c2VjcmV0")
			refused("every scope but "+string(rt.Scope), http.StatusForbidden, bearer(toks["all-but-"+string(rt.Scope)])...)
			if strings.Contains(rt.Pattern, "{dataset}") {
				refused("a token for another dataset", http.StatusForbidden, bearer(toks["customers-only"])...)
			}
			r := e.do(method, path, strings.NewReader(""), bearer(toks["only-"+string(rt.Scope)])...)
			if r.code == http.StatusUnauthorized || r.code == http.StatusForbidden || r.code >= 500 {
				t.Fatalf("token with scope %s for orders: %d %s", rt.Scope, r.code, r.body)
			}
		})
	}
}

// TestEveryRoutePatternInTheSourceIsRegistered reads the package's source
// for route patterns ("GET /..." constants): one that is not registered
// through handle, with its scope, fails here.
func TestEveryRoutePatternInTheSourceIsRegistered(t *testing.T) {
	e := buildEnv(t, envOptions{limits: func(s *config.Server) { s.MetricsOpen = true }})
	var registered []string
	for _, rt := range e.srv.Routes() {
		registered = append(registered, rt.Pattern)
	}
	pattern := regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) /`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && pattern.MatchString(s) {
				found++
				if !slices.Contains(registered, s) {
					t.Errorf("%s: route pattern %q is not registered with a scope (use s.handle)", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
	}
	if found < len(registered) {
		t.Fatalf("found %d route patterns in the source, fewer than the %d registered", found, len(registered))
	}
}

func TestATokenSeesOnlyItsDatasetsInTheCatalog(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{archivedDays: 2, limits: withTokens(toks, map[string]config.Token{
		"all":       {Scopes: []string{"read"}, Datasets: []string{"*"}},
		"customers": {Scopes: []string{"read"}, Datasets: []string{"customers"}},
		"orders":    {Scopes: []string{"read"}, Datasets: []string{"orders"}},
	})})
	count := func(name, query string) int {
		t.Helper()
		r := e.do("GET", "/v1/catalog"+query, nil, bearer(toks[name])...)
		if r.code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", name, query, r.code, r.body)
		}
		return strings.Count(string(r.body), `"dataset": "orders"`)
	}
	all := count("all", "")
	if all < 2 || count("orders", "") != all || count("orders", "?dataset=orders") != all {
		t.Fatalf("orders objects: all %d, orders token %d", all, count("orders", ""))
	}
	if n := count("customers", ""); n != 0 {
		t.Fatalf("a token for customers lists %d orders objects", n)
	}
	r := e.do("GET", "/v1/catalog?dataset=orders", nil, bearer(toks["customers"])...)
	if msg, _, _ := errorOf(t, r); r.code != http.StatusForbidden || !strings.Contains(msg, `may not touch dataset "orders"`) {
		t.Fatalf("catalog of orders with a customers token: %d %s", r.code, msg)
	}
}

func TestACandidateTransformInCompareNeedsTheReplayScope(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{limits: withTokens(toks, map[string]config.Token{
		"reader":   {Scopes: []string{"read"}, Datasets: []string{"orders"}},
		"replayer": {Scopes: []string{"read", "replay"}, Datasets: []string{"orders"}},
	})})
	body := `{"from":"2024-11-01","to":"2024-11-02","transform":"SELECT (r.raw_data->>'order_id')::bigint AS order_id FROM {{source}} AS r"}`
	r := e.do("POST", "/v1/datasets/orders/compare", strings.NewReader(body), bearer(toks["reader"])...)
	if msg, _, _ := errorOf(t, r); r.code != http.StatusForbidden || !strings.Contains(msg, `scope "replay"`) {
		t.Fatalf("candidate with a read token: %d %s", r.code, msg)
	}
	r = e.do("POST", "/v1/datasets/orders/compare", strings.NewReader(`{"from":"2024-11-01","to":"2024-11-02"}`), bearer(toks["reader"])...)
	if r.code != http.StatusOK {
		t.Fatalf("compare without a candidate, read token: %d %s", r.code, r.body)
	}
	r = e.do("POST", "/v1/datasets/orders/compare", strings.NewReader(body), bearer(toks["replayer"])...)
	if r.code == http.StatusForbidden || r.code == http.StatusUnauthorized {
		t.Fatalf("candidate with a replay token: %d %s", r.code, r.body)
	}
}

func TestWithoutTokensEveryRouteIsOpenAndTheActorIsAnonymous(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, rt := range e.srv.Routes() {
		method, path := pathOf(rt.Pattern)
		if r := e.do(method, path, strings.NewReader("")); r.code == http.StatusUnauthorized || r.code == http.StatusForbidden {
			t.Errorf("%s without tokens configured: %d %s", rt.Pattern, r.code, r.body)
		}
	}
}

func TestHoldsAreForAdminTokensOfTheirDatasets(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{limits: withTokens(toks, map[string]config.Token{
		"root":      {Scopes: []string{"admin"}, Datasets: []string{"*"}},
		"customers": {Scopes: []string{"admin"}, Datasets: []string{"customers"}},
		"reader":    {Scopes: []string{"read"}, Datasets: []string{"*"}},
	})})
	hold := func(ds string) string {
		return `{"dataset": "` + ds + `", "type": "analytics", "from": "2024-11-01", "to": "2024-11-30", "reason": "case 24-117"}`
	}
	if r := e.do("POST", "/v1/holds", strings.NewReader(hold("orders")), bearer(toks["reader"])...); r.code != http.StatusForbidden {
		t.Fatalf("hold with a read token: %d %s", r.code, r.body)
	}
	r := e.do("POST", "/v1/holds", strings.NewReader(hold("orders")), bearer(toks["customers"])...)
	if msg, _, _ := errorOf(t, r); r.code != http.StatusForbidden || !strings.Contains(msg, `may not touch dataset "orders"`) {
		t.Fatalf("hold on orders with a customers token: %d %s", r.code, msg)
	}
	for _, ds := range []string{"orders", "customers"} {
		if r := e.do("POST", "/v1/holds", strings.NewReader(hold(ds)), bearer(toks["root"])...); r.code != http.StatusCreated {
			t.Fatalf("hold on %s: %d %s", ds, r.code, r.body)
		}
	}
	list := func(name, query string) string {
		t.Helper()
		r := e.do("GET", "/v1/holds"+query, nil, bearer(toks[name])...)
		if r.code != http.StatusOK {
			t.Fatalf("holds %s by %s: %d %s", query, name, r.code, r.body)
		}
		return string(r.body)
	}
	if all := list("root", ""); !strings.Contains(all, `"dataset": "orders"`) || !strings.Contains(all, `"dataset": "customers"`) {
		t.Fatalf("holds seen by root: %s", all)
	}
	if some := list("customers", ""); strings.Contains(some, `"dataset": "orders"`) || !strings.Contains(some, `"dataset": "customers"`) {
		t.Fatalf("holds seen by a customers token: %s", some)
	}
	if r := e.do("GET", "/v1/holds?dataset=orders", nil, bearer(toks["customers"])...); r.code != http.StatusForbidden {
		t.Fatalf("holds of orders by a customers token: %d", r.code)
	}
	ordersHold := e.count(`SELECT id FROM strata.holds WHERE dataset = 'orders'`)
	release := `{"reason": "case settled"}`
	path := "/v1/holds/" + strconv.FormatInt(ordersHold, 10) + "/release"
	if r := e.do("POST", path, strings.NewReader(release), bearer(toks["customers"])...); r.code != http.StatusForbidden {
		t.Fatalf("release of an orders hold by a customers token: %d %s", r.code, r.body)
	}
	if r := e.do("POST", path, strings.NewReader(release), bearer(toks["root"])...); r.code != http.StatusOK || !strings.Contains(string(r.body), `"by": "root"`) {
		t.Fatalf("release by root: %d %s", r.code, r.body)
	}
}

func TestErasuresAreForAdminTokensOfTheirDatasets(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{limits: withTokens(toks, map[string]config.Token{
		"root":      {Scopes: []string{"admin", "ingest"}, Datasets: []string{"*"}},
		"customers": {Scopes: []string{"admin"}, Datasets: []string{"customers"}},
	})})
	if r := e.do("POST", "/v1/datasets/orders/records", strings.NewReader(jsonl(records(5000, 14))), bearer(toks["root"])...); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	body := `{"subject": "1003", "reason": "GDPR #1"}`
	if r := e.do("POST", "/v1/datasets/orders/erasures", strings.NewReader(body), bearer(toks["customers"])...); r.code != http.StatusForbidden {
		t.Fatalf("erase in orders with a customers token: %d %s", r.code, r.body)
	}
	r := e.do("POST", "/v1/datasets/orders/erasures", strings.NewReader(body), bearer(toks["root"])...)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"actor": "root"`) {
		t.Fatalf("erase by root: %d %s", r.code, r.body)
	}
	id := e.count(`SELECT max(id) FROM strata.erasures`)
	show := "/v1/erasures/" + strconv.FormatInt(id, 10)
	if r := e.do("GET", show, nil, bearer(toks["customers"])...); r.code != http.StatusForbidden {
		t.Fatalf("show an orders erasure with a customers token: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/v1/erasures?dataset=orders", nil, bearer(toks["customers"])...); r.code != http.StatusForbidden {
		t.Fatalf("list orders erasures with a customers token: %d", r.code)
	}
	if r := e.do("GET", "/v1/erasures", nil, bearer(toks["customers"])...); r.code != http.StatusOK || strings.Contains(string(r.body), `"orders"`) {
		t.Fatalf("list with a customers token: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/v1/erasures", nil, bearer(toks["root"])...); r.code != http.StatusOK || !strings.Contains(string(r.body), `"dataset": "orders"`) {
		t.Fatalf("list with root: %d %s", r.code, r.body)
	}
}
