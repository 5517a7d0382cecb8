package filter

import (
	"errors"
	"testing"
)

// fuzzSeeds are valid and invalid expressions the fuzzer starts from.
var fuzzSeeds = []string{
	"status = 'shipped' AND amount >= 100",
	"region IN ('eu','us') OR region IS NULL",
	"updated_at >= '2024-11-01T06:00:00Z'",
	`NOT ("Mixed Case" <> 'it''s' OR n NOT IN (-1.5e3, .5, 7)) AND b IS NOT NULL`,
	"((a = 1 OR b = 2) AND NOT NOT c < 3) OR d >= TRUE",
	`"a""; DROP" = 1`,
	"x; DROP TABLE y; --",
	"a = 1 OR 1=1",
	"a='x'AND(b<-1)OR\"c\"IN(1)",
	"a = NULL", "a IN ()", "(a = 1", "a = 1e1001", "a = 'x\x00'", "a = '\xff'",
}

// FuzzParse checks that Parse never panics, that every error is an *Error
// inside the text, and that the canonical text of every tree parses back to
// the same tree and is never longer than its source.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Offset < 0 || perr.Offset > len(src) {
				t.Fatalf("Parse(%q) error %v: want an *Error with an offset within the text", src, err)
			}
			return
		}
		canon := e.String()
		if len(canon) > len(src) {
			t.Fatalf("String() of %q is %q, longer than the source", src, canon)
		}
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) (the canonical text of %q): %v", canon, src, err)
		}
		if again.String() != canon || tree(again) != tree(e) {
			t.Fatalf("Parse(%q) gave %s, want %s", canon, tree(again), tree(e))
		}
	})
}
