package config

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a database password is masked", "postgres://strata:s3cret@db:5432/app?sslmode=require", "postgres://strata:REDACTED@db:5432/app?sslmode=require"},
		{"a password parameter is masked", "postgres://db/app?password=s3cret&user=u", "postgres://db/app?password=REDACTED&user=u"},
		{"a SAS signature is masked", "azblob://c?account=a&sig=abc%2Fdef&sv=2022", "azblob://c?account=a&sig=REDACTED&sv=2022"},
		{"an account key is masked", "azblob://c?account=a&key=k", "azblob://c?account=a&key=REDACTED"},
		{"a URL without secrets is unchanged", "file:///var/lib/strata/archive", "file:///var/lib/strata/archive"},
		{"a user without a password is unchanged", "postgres://strata@db/app", "postgres://strata@db/app"},
		{"a URL that does not parse is hidden whole", "postgres://u:s3cret@h:port/db", "REDACTED"},
		{"empty stays empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactedLeavesTheOriginalAlone(t *testing.T) {
	c := validConfig()
	r := c.Redacted()
	if strings.Contains(r.Database.URL, "s3cret") || strings.Contains(r.Storage.URL, "SECRETSIG") {
		t.Errorf("Redacted kept a secret: %s %s", r.Database.URL, r.Storage.URL)
	}
	r.Datasets[0].Analytics.Key[0] = "changed"
	r.Datasets[0].Source.IDColumn = "changed"
	if !strings.Contains(c.Database.URL, "s3cret") || c.Datasets[0].Analytics.Key[0] != "customer_id" || c.Datasets[0].Source.IDColumn != "raw_id" {
		t.Error("Redacted changed the original")
	}
}

func TestStringEchoesTheEffectiveConfigWithoutSecrets(t *testing.T) {
	c := validConfig()
	out := c.String()
	for _, want := range []string{
		"url: postgres://strata:REDACTED@db.example.com:5432/app?sslmode=require",
		"sig=REDACTED",
		"table: sales.orders",
		"key: [customer_id]",
		"retention: 90d",
		"archive_after: immediate",
		"retention: 7y",
		"compression: snappy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("String() lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "SECRETSIG") {
		t.Errorf("String() leaks a secret:\n%s", out)
	}
	// The echo is itself a valid strata.yaml.
	path := writeConfig(t, out)
	if _, err := load(path, nil); err != nil {
		t.Errorf("the echo does not load: %v", err)
	}
}
