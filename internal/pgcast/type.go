package pgcast

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/parquetio"
)

// Type is a column type as far as a cast needs it: its kind and the
// modifiers that format_type spells out (a domain casts as its base type,
// without the base type's modifiers, which its name does not show).
type Type struct {
	Name  string // format_type, e.g. "numeric(12,3)", "character varying(5)[]"
	Kind  parquetio.Kind
	Array bool
	// Length is n of varchar(n) and char(n), 0 when unlimited.
	Length int
	// Bpchar is set for char(n): blank-padded, trailing blanks insignificant.
	Bpchar bool
	// NameType is set for name, which holds at most 63 bytes.
	NameType bool
	// Precision and Scale are numeric's; Precision is 0 for unconstrained numeric.
	Precision, Scale int
	// Fraction is the fractional-second digits of time, timestamp and
	// timestamptz; -1 when not given (6).
	Fraction int
}

// OIDs of the types whose modifiers or behaviour matter.
const (
	oidName   = 19
	oidBpchar = 1042
)

var typmodRe = regexp.MustCompile(`^(character varying|character|numeric|timestamp|time)\((-?\d+)(?:,(-?\d+))?\)`)

// TypeOf describes column c's type.
func TypeOf(c parquetio.Column) (Type, error) {
	c.Name = "c"
	s, err := parquetio.NewSchema([]parquetio.Column{c})
	if err != nil {
		return Type{}, fmt.Errorf("type %s: %w", c.TypeName, err)
	}
	k, array := s.Kind(0)
	t := Type{Name: c.TypeName, Kind: k, Array: array, Fraction: -1}
	oid := c.TypeOID
	switch {
	case c.TypType == 'd':
		oid = c.BaseOID
	case array:
		oid = c.ElemOID
	}
	t.Bpchar, t.NameType = oid == oidBpchar, oid == oidName
	m := typmodRe.FindStringSubmatch(strings.TrimSuffix(c.TypeName, "[]"))
	if m == nil || c.TypType == 'd' {
		return t, nil
	}
	a, _ := strconv.Atoi(m[2])
	switch m[1] {
	case "character varying", "character":
		t.Length = a
	case "numeric":
		t.Precision = a
		if m[3] != "" {
			t.Scale, _ = strconv.Atoi(m[3])
		}
	default:
		t.Fraction = a
	}
	return t, nil
}

// same reports whether values of t and u are stored alike and need no cast.
func (t Type) same(u Type) bool {
	return t.Name == u.Name && t.Kind == u.Kind && t.Array == u.Array && t.Bpchar == u.Bpchar
}

// isString reports whether t is text, varchar, char, name or citext.
func (t Type) isString() bool { return t.Kind == parquetio.KindText }

// elemName is the name of t's element type (t's name for a scalar).
func (t Type) elemName() string { return strings.TrimSuffix(t.Name, "[]") }
