package config

import (
	"strings"
	"testing"
)

func TestSubjectAndRetentionBasisAreValidated(t *testing.T) {
	tests := []struct {
		name    string
		subject *SubjectSpec
		basis   string
		want    string // "" for valid
	}{
		{"a column and a JSON path are a subject", &SubjectSpec{Columns: []string{"customer_id"}, SourcePath: "customer.id"}, "", ""},
		{"a SQL expression may find the raw record's subject", &SubjectSpec{Columns: []string{"email"}, SourceSQL: "lower(raw_data->>'email')"}, "", ""},
		{"a JSON path may start with $.", &SubjectSpec{Columns: []string{"customer_id"}, SourcePath: "$.customer_id"}, "", ""},
		{"a retention basis is free text", nil, "HGB §257: 10 years", ""},
		{"analytics columns are required", &SubjectSpec{SourcePath: "customer_id"}, "", "subject.columns: is required"},
		{"the raw record's subject is required", &SubjectSpec{Columns: []string{"customer_id"}}, "", "needs source_path"},
		{"path and SQL exclude each other", &SubjectSpec{Columns: []string{"customer_id"}, SourcePath: "a", SourceSQL: "b"}, "", "keep one"},
		{"a path is keys and dots", &SubjectSpec{Columns: []string{"customer_id"}, SourcePath: "a..b"}, "", "source_path"},
		{"a path has no quotes", &SubjectSpec{Columns: []string{"customer_id"}, SourcePath: "a'); DROP TABLE x; --"}, "", "source_path"},
		{"SQL is one expression", &SubjectSpec{Columns: []string{"customer_id"}, SourceSQL: "1; DROP TABLE x"}, "", "source_sql"},
		{"SQL has no comments", &SubjectSpec{Columns: []string{"customer_id"}, SourceSQL: "raw_data -- x"}, "", "source_sql"},
		{"a column is an identifier", &SubjectSpec{Columns: []string{"a\x00b"}, SourcePath: "a"}, "", "subject.columns[0]"},
		{"a retention basis has no NUL", nil, "a\x00b", "retention_basis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Datasets[0].Subject, c.Datasets[0].RetentionBasis = tt.subject, tt.basis
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestErasureKeyFileIsResolvedAgainstTheConfigFolder(t *testing.T) {
	c := validConfig()
	c.Dir = "/etc/strata"
	if got := c.ErasureKeyPath(); got != "" {
		t.Errorf("no key_file: %q, want empty", got)
	}
	c.Erasure.KeyFile = "erasure.key"
	if got := c.ErasureKeyPath(); got != "/etc/strata/erasure.key" {
		t.Errorf("relative key_file: %q", got)
	}
	c.Erasure.KeyFile = "/srv/k"
	if got := c.ErasureKeyPath(); got != "/srv/k" {
		t.Errorf("absolute key_file: %q", got)
	}
}
