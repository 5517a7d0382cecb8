package storage

import (
	"fmt"
	"strings"
)

// Key is a validated object name: segments joined by '/'. The zero Key is the
// root (used only as a List prefix). Keys are built only by NewKey, ParseKey
// and Key.Join, which refuse anything unsafe, so raw strings never reach a
// backend.
type Key struct{ s string }

// maxKeyLen bounds a key's length (Azure allows 1024, S3 1024 bytes).
const maxKeyLen = 1000

// NewKey joins segments into a Key. Each segment must be non-empty, not ".",
// free of "..", at most 255 bytes, and made only of ASCII letters, digits,
// '-', '_', '.' and '='. The whole key is at most 1000 bytes. Errors wrap
// ErrInvalidKey.
func NewKey(segments ...string) (Key, error) {
	for _, s := range segments {
		if err := checkSegment(s); err != nil {
			return Key{}, err
		}
	}
	k := strings.Join(segments, "/")
	if len(k) > maxKeyLen {
		return Key{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	return Key{s: k}, nil
}

// ParseKey validates a '/'-separated key such as one read back from a listing
// or the catalog, with the rules of NewKey: no leading, trailing or doubled
// '/'. The empty string is the root Key.
func ParseKey(s string) (Key, error) {
	if s == "" {
		return Key{}, nil
	}
	return NewKey(strings.Split(s, "/")...)
}

// MustKey is NewKey for constant keys in tests; it panics on error.
func MustKey(segments ...string) Key {
	k, err := NewKey(segments...)
	if err != nil {
		panic(err)
	}
	return k
}

// Join appends validated segments to k.
func (k Key) Join(segments ...string) (Key, error) {
	if k.s == "" {
		return NewKey(segments...)
	}
	return NewKey(append(strings.Split(k.s, "/"), segments...)...)
}

// String returns the key as a '/'-separated path.
func (k Key) String() string { return k.s }

// IsZero reports whether k is the root.
func (k Key) IsZero() bool { return k.s == "" }

// HasPrefix reports whether k lies under the folder prefix (or equals it).
func (k Key) HasPrefix(prefix Key) bool {
	return prefix.s == "" || k.s == prefix.s || strings.HasPrefix(k.s, prefix.s+"/")
}

// Segments returns the key's segments.
func (k Key) Segments() []string {
	if k.s == "" {
		return nil
	}
	return strings.Split(k.s, "/")
}

func checkSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty segment", ErrInvalidKey)
	case s == ".":
		return fmt.Errorf("%w: segment %q", ErrInvalidKey, s)
	case strings.Contains(s, ".."):
		// Rejecting ".." anywhere, not only as a whole segment, keeps keys safe
		// for any tool that later joins them into paths or URLs.
		return fmt.Errorf("%w: segment %q contains \"..\"", ErrInvalidKey, s)
	case len(s) > 255:
		return fmt.Errorf("%w: segment longer than 255 bytes", ErrInvalidKey)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '='
		if !ok {
			return fmt.Errorf("%w: segment %q has character %q (allowed: letters, digits, - _ . =)", ErrInvalidKey, s, c)
		}
	}
	return nil
}
