package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Erasure configures strata erase (GDPR Art. 17).
type Erasure struct {
	// KeyFile holds the secret key of the erasure ledger's keyed hashes
	// (HMAC-SHA-256 of each erased subject): at least 32 bytes, kept
	// outside the database the ledger is in, so that reading the catalog
	// does not tell whose records were erased. A relative path is resolved
	// against the config file's folder (ErasureKeyPath). When the file does
	// not exist, the first erasure creates it (32 random bytes, mode 0600):
	// back it up with the config, since the ledger is matched with it.
	KeyFile string `yaml:"key_file"`
}

// SubjectSpec says how a data subject (the person an erasure request is
// about) is found in a dataset. A subject is one value, compared in
// PostgreSQL's text form.
type SubjectSpec struct {
	// Columns are Layer 2 columns: an analytics row is the subject's when
	// one of them holds the value (e.g. [customer_id], or [sender_id,
	// recipient_id]). Required when the dataset has analytics.
	Columns []string `yaml:"columns,flow"`
	// SourcePath is a path into the raw JSON record, keys separated by
	// dots (customer.id; a leading "$." is allowed; a number indexes an
	// array): a raw record is the subject's when the value there, as
	// text, is the subject. SourceSQL instead is a SQL expression over the
	// Layer 3 row (its columns by name), e.g. lower(raw_data->>'email').
	// Exactly one of the two is required when the dataset has a source.
	SourcePath string `yaml:"source_path,omitempty"`
	SourceSQL  string `yaml:"source_sql,omitempty"`
}

// pathSegment is one key of SourcePath.
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9_@-]+$`) // and at most 128 bytes

// PathKeys splits SourcePath into its keys ("$.a.b" and "a.b" give [a b]).
func (s *SubjectSpec) PathKeys() []string {
	p := strings.TrimPrefix(s.SourcePath, "$.")
	if p == "" {
		return nil
	}
	return strings.Split(p, ".")
}

func (ds *Dataset) validateSubject(p *problems, field string) {
	if strings.ContainsRune(ds.RetentionBasis, 0) || len(ds.RetentionBasis) > 1000 {
		p.add(field+".retention_basis", "must be text of at most 1000 bytes naming the statute (e.g. \"HGB §257: commercial records, 10 years\")")
	}
	s := ds.Subject
	if s == nil {
		return
	}
	field += ".subject"
	if ds.Analytics != nil && len(s.Columns) == 0 {
		p.add(field+".columns", "is required: list the analytics column(s) holding the subject (e.g. [customer_id])")
	}
	if ds.Analytics == nil && len(s.Columns) > 0 {
		p.add(field+".columns", "needs an analytics: section (the columns are Layer 2 columns)")
	}
	for i, c := range s.Columns {
		checkColumn(p, fmt.Sprintf("%s.columns[%d]", field, i), c)
	}
	s.validateSource(p, field, ds.Source != nil)
}

func (s *SubjectSpec) validateSource(p *problems, field string, hasSource bool) {
	switch {
	case !hasSource && (s.SourcePath != "" || s.SourceSQL != ""):
		p.add(field, "source_path and source_sql need a source: section (they find the subject in raw records)")
	case hasSource && s.SourcePath == "" && s.SourceSQL == "":
		p.add(field, "needs source_path (a JSON path into the raw record, e.g. customer_id) or source_sql (a SQL expression over the Layer 3 row)")
	case s.SourcePath != "" && s.SourceSQL != "":
		p.add(field, "has both source_path and source_sql: keep one")
	case s.SourcePath != "":
		for _, k := range s.PathKeys() {
			if len(k) > 128 || !pathSegment.MatchString(k) {
				p.add(field+".source_path", "%q is not a path of keys separated by dots (use letters, digits, _ @ -; e.g. customer.id)", s.SourcePath)
				break
			}
		}
		if len(s.PathKeys()) == 0 {
			p.add(field+".source_path", "is empty (name the key, e.g. customer_id)")
		}
	case s.SourceSQL != "":
		if strings.ContainsAny(s.SourceSQL, ";\x00") || strings.Contains(s.SourceSQL, "--") || strings.Contains(s.SourceSQL, "/*") || len(s.SourceSQL) > 4096 {
			p.add(field+".source_sql", "must be one SQL expression without ; or comments, at most 4096 bytes (e.g. lower(raw_data->>'email'))")
		}
	}
}

func (c *Config) validateErasure(p *problems) {
	if f := c.Erasure.KeyFile; f != "" && (strings.HasSuffix(f, "/") || strings.ContainsRune(f, 0)) {
		p.add("erasure.key_file", "%q is not a file path (give a file such as /etc/strata/erasure.key)", f)
	}
}

// ErasureKeyPath returns erasure.key_file resolved against c.Dir, or ""
// when it is not set.
func (c *Config) ErasureKeyPath() string {
	f := c.Erasure.KeyFile
	if f == "" || filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(c.Dir, f)
}
