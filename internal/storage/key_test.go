package storage

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseKey checks that whatever ParseKey accepts is safe to use as a path
// or URL component and round-trips unchanged.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"", "a", "a/b", "orders/day=2024-01-02/part-0.parquet", "..", "a/../b", "a//b", "/abs",
		"a\\b", "a\x00b", "%2e%2e/x", "x; DROP TABLE y; --", ".a/b.", "a..b", strings.Repeat("ab/", 400),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ParseKey(%q): error %v does not wrap ErrInvalidKey", s, err)
			}
			return
		}
		got := k.String()
		switch {
		case got != s:
			t.Fatalf("ParseKey(%q).String() = %q, want the input unchanged", s, got)
		case strings.Contains(got, ".."), strings.ContainsRune(got, 0), strings.ContainsRune(got, '\\'),
			strings.HasPrefix(got, "/"), strings.HasSuffix(got, "/"), strings.Contains(got, "//"):
			t.Fatalf("ParseKey accepted unsafe key %q", got)
		case len(got) > maxKeyLen:
			t.Fatalf("ParseKey accepted a key of %d bytes", len(got))
		}
		if again, err := ParseKey(got); err != nil || again != k {
			t.Fatalf("ParseKey(%q) again = (%q, %v), want the same key", got, again, err)
		}
		if rebuilt, err := NewKey(k.Segments()...); !k.IsZero() && (err != nil || rebuilt != k) {
			t.Fatalf("NewKey(Segments(%q)) = (%q, %v), want the same key", got, rebuilt, err)
		}
	})
}

func TestKeyHasPrefixTreatsThePrefixAsAFolder(t *testing.T) {
	ab := MustKey("a", "b")
	tests := []struct {
		key  Key
		want bool
	}{
		{MustKey("a", "b", "c"), true},
		{ab, true},
		{MustKey("a", "bc", "d"), false},
		{MustKey("a", "b.x"), false},
		{MustKey("a"), false},
	}
	for _, tc := range tests {
		if got := tc.key.HasPrefix(ab); got != tc.want {
			t.Errorf("%q.HasPrefix(%q) = %v, want %v", tc.key, ab, got, tc.want)
		}
	}
	if !ab.HasPrefix(Key{}) {
		t.Error("every key must lie under the root")
	}
}

func TestPutOptionsValidateNamesWhatIsWrong(t *testing.T) {
	good := PutOptions{Size: 1, SHA256: strings.Repeat("a", 64), Metadata: map[string]string{"rows_2": "x y"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := []struct {
		name string
		edit func(*PutOptions)
		want string
	}{
		{"a negative size", func(o *PutOptions) { o.Size = -1 }, "negative"},
		{"a short SHA-256", func(o *PutOptions) { o.SHA256 = "abc" }, "64 lower-case hex"},
		{"an upper-case SHA-256", func(o *PutOptions) { o.SHA256 = strings.Repeat("A", 64) }, "64 lower-case hex"},
		{"a metadata key starting with a digit", func(o *PutOptions) { o.Metadata = map[string]string{"1a": ""} }, "metadata key"},
		{"a metadata value with a control byte", func(o *PutOptions) { o.Metadata = map[string]string{"a": "\x01"} }, "printable ASCII"},
		{"too much metadata", func(o *PutOptions) { o.Metadata = map[string]string{"a": strings.Repeat("x", 3000)} }, "more than"},
	}
	for _, tc := range tests {
		t.Run("options with "+tc.name+" are refused", func(t *testing.T) {
			o := good
			tc.edit(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
