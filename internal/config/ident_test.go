package config

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestParseTableName(t *testing.T) {
	tests := []struct {
		name, in string
		want     TableName
		sql      string
	}{
		{"a bare name uses the search path", "orders", TableName{Name: "orders"}, `"orders"`},
		{"a schema-qualified name keeps both", "public.orders", TableName{Schema: "public", Name: "orders"}, `"public"."orders"`},
		{"mixed case is kept exactly", "Sales.Orders", TableName{Schema: "Sales", Name: "Orders"}, `"Sales"."Orders"`},
		{"underscores, digits and dollars are allowed", "_t1$x", TableName{Name: "_t1$x"}, `"_t1$x"`},
		{"a 63-byte name fits", strings.Repeat("a", 63), TableName{Name: strings.Repeat("a", 63)}, `"` + strings.Repeat("a", 63) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTableName(tt.in)
			if err != nil {
				t.Fatalf("ParseTableName(%q): %v", tt.in, err)
			}
			if got != tt.want || got.Sanitize() != tt.sql || got.String() != tt.in {
				t.Errorf("ParseTableName(%q) = %+v, Sanitize %s, String %s", tt.in, got, got.Sanitize(), got)
			}
		})
	}
}

func TestParseTableNameRejects(t *testing.T) {
	tests := []struct{ name, in, msg string }{
		{"an empty name", "", "is empty"},
		{"three parts", "db.public.orders", `"db.public.orders" has too many dots (use table or schema.table)`},
		{"an empty schema", ".orders", `".orders" has an empty part (use table or schema.table)`},
		{"a trailing dot", "orders.", `"orders." has an empty part (use table or schema.table)`},
		{"a leading digit", "1orders", `"1orders" must start with a letter or _`},
		{"a quote", `orders"; drop table x; --`, `"orders\"; drop table x; --" contains '"' (use ASCII letters, digits, _ or $)`},
		{"a hyphen", "my-orders", `"my-orders" contains '-' (use ASCII letters, digits, _ or $)`},
		{"a space", "my orders", `"my orders" contains ' ' (use ASCII letters, digits, _ or $)`},
		{"a 64-byte name", strings.Repeat("a", 64), `"aaaaaaaaaaaaaaaaaaaa"... is longer than 63 bytes (PostgreSQL would truncate it)`},
		{"non-ASCII letters", "tablé", `"tablé" contains 'é' (use ASCII letters, digits, _ or $)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTableName(tt.in)
			if err == nil || err.Error() != tt.msg {
				t.Errorf("ParseTableName(%q) error = %v, want %s", tt.in, err, tt.msg)
			}
		})
	}
}

func FuzzValidateIdentifier(f *testing.F) {
	for _, s := range []string{"orders", "_x", "a$b", "1a", `a"b`, "", "a.b", strings.Repeat("z", 64), "tablé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateIdentifier(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > MaxIdentifierLen {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		// A valid identifier needs no escaping inside double quotes, so it
		// can never break out of the quoted form.
		if got := (pgx.Identifier{s}).Sanitize(); got != `"`+s+`"` {
			t.Fatalf("Sanitize(%q) = %s, needed escaping", s, got)
		}
		tn, err := ParseTableName("public." + s)
		if err != nil || tn.Name != s || tn.Schema != "public" {
			t.Fatalf("ParseTableName(public.%s) = %+v, %v", s, tn, err)
		}
	})
}
