package config

import (
	"strings"
	"testing"
)

const sha = "4de4419be86496b6287d5c3525fa9679f780884bd201eb40312f8d514f64fbd2"

func TestValidateAcceptsTokensAndTLS(t *testing.T) {
	c := validConfig()
	c.Server.Tokens = []Token{
		{Name: "reporting", SHA256: sha, Scopes: []string{"read"}, Datasets: []string{"orders", "customers"}},
		{Name: "ops@example.com", SHA256: strings.ToUpper(sha[:63]) + "0", Scopes: TokenScopes(), Datasets: []string{"*"}},
		{Name: "prometheus", SHA256: strings.Repeat("a", 64), Scopes: []string{"read"}},
	}
	c.Server.TLSCert, c.Server.TLSKey, c.Server.MetricsOpen = "/etc/strata/cert.pem", "/etc/strata/key.pem", true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRefusesBadTokensSayingHowToFixThem(t *testing.T) {
	tok := func(mutate func(*Token)) func(*Config) {
		return func(c *Config) {
			t := Token{Name: "alice", SHA256: sha, Scopes: []string{"read"}, Datasets: []string{"orders"}}
			mutate(&t)
			c.Server.Tokens = []Token{t}
		}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"a token needs a name", tok(func(t *Token) { t.Name = "" }), `server.tokens[0].name: "" is not a token name`},
		{"a name has no spaces", tok(func(t *Token) { t.Name = "alice smith" }), `server.tokens[0].name: "alice smith" is not a token name`},
		{"the secret itself is not its hash", tok(func(t *Token) { t.SHA256 = "strata_abc" }), "looks like the secret itself"},
		{"a hash is 64 hex digits", tok(func(t *Token) { t.SHA256 = sha[:40] }), "server.tokens[0].sha256: is not 64 hexadecimal digits"},
		{"a token needs a scope", tok(func(t *Token) { t.Scopes = nil }), "server.tokens[0].scopes: is empty (use one or more of read, ingest, replay, admin)"},
		{"scopes are known", tok(func(t *Token) { t.Scopes = []string{"read", "write"} }), `server.tokens[0].scopes[1]: "write" is not a scope`},
		{"datasets are configured", tok(func(t *Token) { t.Datasets = []string{"ordrs"} }), `server.tokens[0].datasets[0]: "ordrs" is not a configured dataset`},
		{"a star stands alone", tok(func(t *Token) { t.Datasets = []string{"*", "orders"} }), `"*" stands for every dataset`},
		{"names are unique", func(c *Config) {
			c.Server.Tokens = []Token{{Name: "a", SHA256: sha, Scopes: []string{"read"}}, {Name: "a", SHA256: strings.Repeat("b", 64), Scopes: []string{"read"}}}
		}, `server.tokens[1].name: "a" is already the name of server.tokens[0]`},
		{"secrets are unique", func(c *Config) {
			c.Server.Tokens = []Token{{Name: "a", SHA256: sha, Scopes: []string{"read"}}, {Name: "b", SHA256: strings.ToUpper(sha), Scopes: []string{"read"}}}
		}, "server.tokens[1].sha256: is the same as server.tokens[0].sha256"},
		{"a certificate needs its key", func(c *Config) { c.Server.TLSCert = "/etc/cert.pem" }, "server.tls_cert: and server.tls_key go together"},
		{"a key needs its certificate", func(c *Config) { c.Server.TLSKey = "/etc/key.pem" }, "server.tls_cert: and server.tls_key go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMetricsOpenAndTheTLSFilesComeFromTheEnvironment(t *testing.T) {
	c := validConfig()
	env := map[string]string{"STRATA_SERVER_METRICS_OPEN": "true", "STRATA_SERVER_TLS_CERT": "/c.pem", "STRATA_SERVER_TLS_KEY": "/k.pem"}
	if err := c.applyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !c.Server.MetricsOpen || c.Server.TLSCert != "/c.pem" || c.Server.TLSKey != "/k.pem" {
		t.Fatalf("server %+v", c.Server)
	}
	err := c.applyEnv(func(k string) string {
		if k == "STRATA_SERVER_METRICS_OPEN" {
			return "yes please"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), `STRATA_SERVER_METRICS_OPEN: "yes please" is not true or false`) {
		t.Fatalf("bad bool: %v", err)
	}
}

func TestTheTLSFilesAreFromTheConfigFilesFolder(t *testing.T) {
	c := validConfig()
	c.Dir = "/etc/strata"
	c.Server.TLSCert, c.Server.TLSKey = "tls/cert.pem", "/secrets/key.pem"
	if cert, key := c.TLSFiles(); cert != "/etc/strata/tls/cert.pem" || key != "/secrets/key.pem" {
		t.Fatalf("TLSFiles() = %s, %s", cert, key)
	}
	c.Server.TLSCert, c.Server.TLSKey = "", ""
	if cert, key := c.TLSFiles(); cert != "" || key != "" {
		t.Fatalf("TLSFiles() without TLS = %q, %q", cert, key)
	}
}
