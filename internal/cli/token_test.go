package cli_test

import (
	"crypto/tls"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/testenv"
)

// createToken runs strata token create and returns its secret and the
// server: block it printed.
func createToken(t *testing.T, env map[string]string, args ...string) (secret, block string) {
	t.Helper()
	r := run(t, env, append([]string{"token", "create"}, args...)...)
	if r.code != 0 {
		t.Fatalf("token create: exit %d: %s", r.code, r.stderr)
	}
	m := regexp.MustCompile(`(?s)\n  (strata_[A-Za-z0-9_-]{43})\n.*\n(server:\n.*?)\n\n`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("token create printed no secret and server block:\n%s", r.stdout)
	}
	return m[1], m[2]
}

func TestTokenCreatePrintsASecretThatServeAcceptsFromTheLinesItPrints(t *testing.T) {
	secret, block := createToken(t, nil, "--name", "reporting", "--scopes", "read,ingest", "--datasets", "orders")
	if strings.Contains(block, secret) || !strings.Contains(block, "sha256: "+auth.Hash(secret)) ||
		!strings.Contains(block, `scopes: ["read", "ingest"]`) || !strings.Contains(block, `datasets: ["orders"]`) {
		t.Fatalf("server block:\n%s", block)
	}
	other, _ := createToken(t, nil, "--name", "x", "--scopes", "read")
	if other == secret {
		t.Fatal("two tokens with one secret")
	}
	certFile, keyFile, roots := testenv.TLSFiles(t)
	te := testenv.New(t, testenv.Options{Prefix: "svc", Datasets: []testenv.Dataset{{Name: "orders", Days: 3, PerDay: 5}},
		Extra: block + "\n  tls_cert: " + certFile + "\n  tls_key: " + keyFile})
	env := map[string]string{"STRATA_CONFIG": te.ConfigPath}
	if _, block2 := createToken(t, env, "--name", "other", "--scopes", "admin"); !strings.Contains(block2, `datasets: ["*"]`) {
		t.Fatalf("without --datasets: %s", block2)
	}
	base, stop, exit, logs := startServe(t, env, "--listen", "127.0.0.1:0", "--no-scheduler")
	defer func() { stop(); <-exit }()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serve with tls_cert serves %s", base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	for _, c := range []struct {
		secret string
		want   int
	}{{"", http.StatusUnauthorized}, {other, http.StatusUnauthorized}, {secret, http.StatusOK}} {
		req, _ := http.NewRequest("GET", base+"/v1/catalog?dataset=orders", nil)
		if c.secret != "" {
			req.Header.Set("Authorization", "Bearer "+c.secret)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("catalog with %q: %d, want %d\n%s", c.secret, resp.StatusCode, c.want, logs)
		}
	}
}

func TestTokenCreateRefusesBadInputWithExitTwo(t *testing.T) {
	_, block := createToken(t, nil, "--name", "reporting", "--scopes", "read")
	te := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{{Name: "orders"}}, Extra: block})
	env := map[string]string{"STRATA_CONFIG": te.ConfigPath}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no name", nil, []string{"--scopes", "read"}, "--name"},
		{"a name with a space", nil, []string{"--name", "a b", "--scopes", "read"}, "is not a token name"},
		{"no scopes", nil, []string{"--name", "a"}, "--scopes is required"},
		{"an unknown scope", nil, []string{"--name", "a", "--scopes", "read,write"}, `"write" is not a scope`},
		{"a star among datasets", nil, []string{"--name", "a", "--scopes", "read", "--datasets", "*,orders"}, "use it alone"},
		{"a dataset the configuration lacks", env, []string{"--name", "a", "--scopes", "read", "--datasets", "ordres"}, `"ordres" is not a dataset of`},
		{"a name the configuration has", env, []string{"--name", "reporting", "--scopes", "read"}, "already has a token of that name"},
		{"an argument", nil, []string{"now", "--name", "a", "--scopes", "read"}, "takes flags only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, append([]string{"token", "create"}, c.args...)...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stdout, "strata_") {
				t.Fatalf("exit %d, stderr %q, stdout %q; want 2 and %q", r.code, r.stderr, r.stdout, c.want)
			}
		})
	}
}

func TestServeWithoutTokensRefusesToListenBeyondLoopback(t *testing.T) {
	cfg, _ := setup(t)
	env := map[string]string{"STRATA_CONFIG": cfg}
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		r := run(t, env, "serve", "--listen", addr, "--no-scheduler")
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "no server.tokens are configured") ||
			!strings.Contains(r.stderr, "refusing to listen on anything but loopback") || !strings.Contains(r.stderr, "strata token create") {
			t.Fatalf("--listen %s: exit %d, stderr %q", addr, r.code, r.stderr)
		}
	}
	base, stop, exit, _ := startServe(t, env, "--listen", "localhost:0", "--no-scheduler")
	if code, _ := get(t, base+"/v1/catalog"); code != http.StatusOK {
		t.Fatalf("localhost without tokens: %d", code)
	}
	stop()
	if c := <-exit; c != 0 {
		t.Fatalf("exit %d", c)
	}
}
