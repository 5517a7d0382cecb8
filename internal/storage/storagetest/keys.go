package storagetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

// HostileKeys are names that must never become a Key: traversal, encoded
// traversal, separators and quoting from other systems, control bytes,
// absolute paths and oversized names. Exported so callers that build keys
// from outside input (HTTP parameters, config) can test against them too.
func HostileKeys() []struct{ Name, Key string } {
	return []struct{ Name, Key string }{
		{"parent directory", ".."},
		{"parent directory inside a path", "a/../b"},
		{"leading parent directory", "../etc/passwd"},
		{"current directory", "."},
		{"current directory inside a path", "a/./b"},
		{"dots inside a segment", "a..b"},
		{"empty segment", "a//b"},
		{"trailing slash", "a/b/"},
		{"leading slash (absolute path)", "/etc/passwd"},
		{"Windows absolute path", `C:\Windows`},
		{"Windows drive prefix with slash", "C:/x"},
		{"backslash separator", `a\b`},
		{"backslash traversal", `..\..\x`},
		{"NUL byte", "a\x00b"},
		{"newline", "a\nb"},
		{"tab", "a\tb"},
		{"URL-encoded traversal", "%2e%2e/x"},
		{"URL-encoded slash", "a%2Fb"},
		{"space", "a b"},
		{"double quote", `a"b`},
		{"single quote", "a'b"},
		{"SQL injection", "x; DROP TABLE y; --"},
		{"shell substitution", "$(rm -rf /)"},
		{"glob", "a/*"},
		{"question mark", "a?b"},
		{"hash", "a#b"},
		{"non-ASCII letter", "ä"},
		{"full-width dots", "．．"},
		{"home directory", "~/x"},
		{"URL", "https://evil.example/x"},
		{"segment of 256 bytes", strings.Repeat("a", 256)},
		{"key of 1001 bytes", strings.Repeat("abcdefghi/", 100) + "a"},
		{"empty key given as a segment", ""},
	}
}

func testHostileKeys(t *testing.T) {
	for _, tc := range HostileKeys() {
		t.Run("a key with "+tc.Name+" is refused", func(t *testing.T) {
			if k, err := storage.ParseKey(tc.Key); (err == nil && tc.Key != "") || (err != nil && !errors.Is(err, storage.ErrInvalidKey)) {
				t.Errorf("ParseKey(%q) = (%q, %v), want ErrInvalidKey", tc.Key, k, err)
			}
			if k, err := storage.NewKey(tc.Key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("NewKey(%q) = (%q, %v), want ErrInvalidKey", tc.Key, k, err)
			}
			base := storage.MustKey("base")
			if k, err := base.Join(tc.Key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Join(%q) = (%q, %v), want ErrInvalidKey", tc.Key, k, err)
			}
			if k, err := storage.NewKey("ok", tc.Key, "ok"); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("NewKey(ok, %q, ok) = (%q, %v), want ErrInvalidKey", tc.Key, k, err)
			}
		})
	}
	t.Run("ordinary archive names are accepted", func(t *testing.T) {
		for _, s := range []string{"orders/day=2024-01-02/part-0001.parquet", "a", "A.b_c-d=e", strings.Repeat("a", 255)} {
			k, err := storage.ParseKey(s)
			if err != nil || k.String() != s {
				t.Errorf("ParseKey(%q) = (%q, %v), want it unchanged", s, k, err)
			}
		}
	})
}
