package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
)

// MaxIdentifierLen is PostgreSQL's identifier limit (NAMEDATALEN-1 bytes);
// longer names would be silently truncated by the server.
const MaxIdentifierLen = 63

// ValidateIdentifier reports whether s may name a PostgreSQL table, schema or
// column in strata.yaml: 1 to 63 bytes of ASCII letters, digits, '_' and '$',
// starting with a letter or '_'. Names are used exactly as written (always
// quoted), so "Orders" and "orders" are different tables.
func ValidateIdentifier(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > MaxIdentifierLen:
		return fmt.Errorf("%.20q... is longer than %d bytes (PostgreSQL would truncate it)", s, MaxIdentifierLen)
	case !isLetter(s[0]) && s[0] != '_':
		return fmt.Errorf("%q must start with a letter or _", s)
	}
	for _, r := range s {
		if r >= 0x80 || (!isLetter(byte(r)) && !isDigit(byte(r)) && r != '_' && r != '$') {
			return fmt.Errorf("%q contains %q (use ASCII letters, digits, _ or $)", s, r)
		}
	}
	return nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// TableName is a table name, optionally schema-qualified ("schema.table").
// An empty Schema means the connection's search_path decides.
type TableName struct {
	Schema string
	Name   string

	invalid string // text that failed to parse in UnmarshalYAML; Validate reports it
}

// ParseTableName parses "table" or "schema.table"; each part must pass
// ValidateIdentifier.
func ParseTableName(s string) (TableName, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return TableName{}, fmt.Errorf("%q has too many dots (use table or schema.table)", s)
	}
	for _, p := range parts {
		if err := ValidateIdentifier(p); err != nil {
			if p == "" && s != "" {
				return TableName{}, fmt.Errorf("%q has an empty part (use table or schema.table)", s)
			}
			return TableName{}, err
		}
	}
	if len(parts) == 2 {
		return TableName{Schema: parts[0], Name: parts[1]}, nil
	}
	return TableName{Name: parts[0]}, nil
}

// Validate checks t's parts, for a TableName built in code or read from YAML.
func (t TableName) Validate() error {
	if t.invalid != "" {
		_, err := ParseTableName(t.invalid)
		return err
	}
	if t.Schema != "" {
		if err := ValidateIdentifier(t.Schema); err != nil {
			return fmt.Errorf("schema %w", err)
		}
	}
	return ValidateIdentifier(t.Name)
}

// IsZero reports whether t is unset.
func (t TableName) IsZero() bool { return t == TableName{} }

// String returns "schema.table" or "table", unquoted, as written in config.
func (t TableName) String() string {
	if t.invalid != "" {
		return t.invalid
	}
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// Identifier returns t as a pgx.Identifier ({schema, name} or {name}).
func (t TableName) Identifier() pgx.Identifier {
	if t.Schema == "" {
		return pgx.Identifier{t.Name}
	}
	return pgx.Identifier{t.Schema, t.Name}
}

// Sanitize returns t quoted for splicing into SQL, e.g. "public"."orders".
// Call it only on a validated TableName.
func (t TableName) Sanitize() string { return t.Identifier().Sanitize() }

// UnmarshalYAML reads "table" or "schema.table". Text that does not parse is
// kept and reported by Config.Validate with the key's path.
func (t *TableName) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a table name must be a single value such as schema.table", n.Line)}}
	}
	p, err := ParseTableName(n.Value)
	if err != nil {
		p = TableName{invalid: n.Value}
	}
	*t = p
	return nil
}

// MarshalYAML writes t as ParseTableName reads it.
func (t TableName) MarshalYAML() (any, error) { return t.String(), nil }
