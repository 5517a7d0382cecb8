package config

import (
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// redactedText replaces every secret in Redacted's output.
const redactedText = "REDACTED"

// isSecretParam reports whether a URL query parameter holds a secret: a
// password, an Azure SAS signature, an account key or a token.
func isSecretParam(name string) bool {
	switch strings.ToLower(name) {
	case "password", "sig", "key", "accountkey", "secret", "token", "sas", "access_key", "secret_key", "session_token", "x-amz-signature", "x-amz-credential", "x-amz-security-token":
		return true
	}
	return false
}

// Redacted returns a deep copy of c that is safe to print or log: URL
// passwords and secret query parameters (password, sig, key, token, ...) are
// replaced by REDACTED. A URL that does not parse is replaced whole.
func (c *Config) Redacted() Config {
	r := *c
	r.Database.URL = RedactURL(c.Database.URL)
	r.Storage.URL = RedactURL(c.Storage.URL)
	r.Lineage.OpenLineageURL = RedactURL(c.Lineage.OpenLineageURL)
	r.Datasets = slices.Clone(c.Datasets)
	for i := range r.Datasets {
		ds := &r.Datasets[i]
		if ds.Source != nil {
			s := *ds.Source
			ds.Source = &s
		}
		if ds.Analytics != nil {
			a := *ds.Analytics
			a.Key = slices.Clone(a.Key)
			ds.Analytics = &a
		}
	}
	return r
}

// String returns c as YAML with secrets redacted, for echoing the effective
// configuration (strata.yaml, environment and defaults combined).
func (c Config) String() string {
	out, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return "config: " + err.Error()
	}
	return string(out)
}

// RedactURL masks the password and secret query parameters of s. The
// result is for display only.
func RedactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return redactedText
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redactedText)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name := range q {
			if isSecretParam(name) {
				q[name] = []string{redactedText}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
