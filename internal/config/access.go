package config

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// TokenScopes are the scopes a token may hold, in the order the docs list
// them: read (retrieve, catalog, lineage, compare, the console, /metrics),
// ingest (POST records), replay (replay, and candidate transforms) and admin
// (holds, erasure, restore). A scope grants its own routes only.
func TokenScopes() []string { return []string{"read", "ingest", "replay", "admin"} }

// AllDatasets in a token's datasets lets it touch every dataset.
const AllDatasets = "*"

// tokenName is the rule for token names, which the audit trail and the
// logs record.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`) // and at most 64 bytes

// ValidTokenName reports whether name can name a token.
func ValidTokenName(name string) bool { return len(name) <= 64 && tokenName.MatchString(name) }

// TLSFiles returns server.tls_cert and server.tls_key resolved against
// c.Dir (the config file's folder), like every relative path of the file;
// both "" when TLS is off.
func (c *Config) TLSFiles() (cert, key string) {
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Dir, p)
	}
	return resolve(c.Server.TLSCert), resolve(c.Server.TLSKey)
}

// validateAccess checks server.tokens and the TLS files' pairing.
func (c *Config) validateAccess(p *problems) {
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		p.add("server.tls_cert", "and server.tls_key go together: set both (PEM certificate chain and its private key) or neither")
	}
	names := map[string]int{}
	hashes := map[string]int{}
	for i, t := range c.Server.Tokens {
		field := fmt.Sprintf("server.tokens[%d]", i)
		c.validateToken(p, field, t)
		if j, dup := names[t.Name]; dup && t.Name != "" {
			p.add(field+".name", "%q is already the name of server.tokens[%d] (names must be unique: the audit trail tells tokens apart by name)", t.Name, j)
		} else {
			names[t.Name] = i
		}
		h := strings.ToLower(t.SHA256)
		if j, dup := hashes[h]; dup && h != "" {
			p.add(field+".sha256", "is the same as server.tokens[%d].sha256 (one secret, two tokens: create a new one with strata token create)", j)
		} else {
			hashes[h] = i
		}
	}
}

func (c *Config) validateToken(p *problems, field string, t Token) {
	if !ValidTokenName(t.Name) {
		p.add(field+".name", "%s is not a token name (use 1 to 64 letters, digits, . _ @ -, starting with a letter or digit)", quoteName(t.Name))
	}
	if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
		hint := "use the sha256 line that strata token create prints"
		if strings.HasPrefix(t.SHA256, "strata_") {
			hint = "this looks like the secret itself: the configuration holds only its SHA-256, which strata token create prints"
		}
		p.add(field+".sha256", "is not 64 hexadecimal digits (%s)", hint)
	}
	if len(t.Scopes) == 0 {
		p.add(field+".scopes", "is empty (use one or more of %s)", strings.Join(TokenScopes(), ", "))
	}
	for j, sc := range t.Scopes {
		if !slices.Contains(TokenScopes(), sc) {
			p.add(fmt.Sprintf("%s.scopes[%d]", field, j), "%s is not a scope (use %s)", quoteName(sc), strings.Join(TokenScopes(), ", "))
		}
	}
	for j, ds := range t.Datasets {
		f := fmt.Sprintf("%s.datasets[%d]", field, j)
		switch _, ok := c.Dataset(ds); {
		case ds == AllDatasets && len(t.Datasets) > 1:
			p.add(f, `"*" stands for every dataset: use it alone`)
		case ds != AllDatasets && !ok:
			p.add(f, "%s is not a configured dataset (use the name of one under datasets, or \"*\" for all)", quoteName(ds))
		}
	}
}

// quoteName quotes a name from the configuration for a message, cut short.
func quoteName(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
