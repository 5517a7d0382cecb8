package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// tree prints the structure of e with every node explicit.
func tree(e Expr) string {
	switch e := e.(type) {
	case *andExpr:
		return "(and" + treeList(e.terms) + ")"
	case *orExpr:
		return "(or" + treeList(e.terms) + ")"
	case *notExpr:
		return "(not " + tree(e.x) + ")"
	case *cmpExpr:
		return fmt.Sprintf("[%s %s %s]", e.col.name, e.op, e.lit.describe())
	case *inExpr:
		var lits []string
		for _, l := range e.lits {
			lits = append(lits, l.describe())
		}
		return fmt.Sprintf("[%s in%s %s]", e.col.name, map[bool]string{true: "!"}[e.not], strings.Join(lits, "; "))
	case *nullExpr:
		return fmt.Sprintf("[%s null%s]", e.col.name, map[bool]string{true: "!"}[e.not])
	}
	return fmt.Sprintf("?%T", e)
}

func treeList(es []Expr) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(" " + tree(e))
	}
	return b.String()
}

func TestParseBuildsTheTreeAndItsCanonicalText(t *testing.T) {
	for _, tc := range []struct {
		name, src, tree, canon string
	}{
		{"a comparison of a column with a string", "status = 'shipped'",
			"[status = the string 'shipped']", "status='shipped'"},
		{"AND binds tighter than OR", "a = 1 OR b = 2 AND c = 3",
			"(or [a = the number 1] (and [b = the number 2] [c = the number 3]))", "a=1 OR b=2 AND c=3"},
		{"NOT binds tighter than AND", "NOT a = 1 AND b = 2",
			"(and (not [a = the number 1]) [b = the number 2])", "NOT a=1 AND b=2"},
		{"parentheses override precedence", "(a = 1 OR b = 2) AND c = 3",
			"(and (or [a = the number 1] [b = the number 2]) [c = the number 3])", "(a=1 OR b=2)AND c=3"},
		{"NOT applies to a parenthesised group", "NOT (a = 1 AND b = 2)",
			"(not (and [a = the number 1] [b = the number 2]))", "NOT(a=1 AND b=2)"},
		{"NOT NOT is kept", "not not a = 1", "(not (not [a = the number 1]))", "NOT NOT a=1"},
		{"redundant parentheses go", "((a = 1))", "[a = the number 1]", "a=1"},
		{"nested chains of one operator are spliced", "(a = 1 AND b = 2) AND (c = 3 AND d = 4)",
			"(and [a = the number 1] [b = the number 2] [c = the number 3] [d = the number 4])", "a=1 AND b=2 AND c=3 AND d=4"},
		{"keywords are case-insensitive and bare names fold to lower case", "Region iS nOt NuLl And AMOUNT In (1, 2)",
			"(and [region null!] [amount in the number 1; the number 2])", "region IS NOT NULL AND amount IN(1,2)"},
		{"NOT IN and IS NULL parse", "a NOT IN ('x') OR b IS NULL",
			"(or [a in! the string 'x'] [b null])", "a NOT IN('x')OR b IS NULL"},
		{"a quoted identifier keeps its case and spaces", `"Mixed Case" = 1`,
			"[Mixed Case = the number 1]", `"Mixed Case"=1`},
		{"a doubled quote in an identifier is one quote", `"a""b" <> 'x'`, `[a"b <> the string 'x']`, `"a""b"<>'x'`},
		{"a quoted lower-case name needs no quotes", `"amount" > 5`, "[amount > the number 5]", "amount>5"},
		{"a column named like a keyword stays quoted", `"and" = 1`, "[and = the number 1]", `"and"=1`},
		{"a doubled quote in a string is one quote", "name = 'O''Brien'", "[name = the string 'O''Brien']", "name='O''Brien'"},
		{"!= is written <>", "a != 1", "[a <> the number 1]", "a<>1"},
		{"every operator parses", "a < 1 AND b <= 2 AND c > 3 AND d >= 4",
			"(and [a < the number 1] [b <= the number 2] [c > the number 3] [d >= the number 4])", "a<1 AND b<=2 AND c>3 AND d>=4"},
		{"numbers keep their spelling", "a IN (-12, 3.5, 1e3, .5, 5., 1E-3, 2e+2)",
			"[a in the number -12; the number 3.5; the number 1e3; the number .5; the number 5.; the number 1E-3; the number 2e+2]",
			"a IN(-12,3.5,1e3,.5,5.,1E-3,2e+2)"},
		{"booleans are upper-cased", "paid = true OR paid = False", "(or [paid = TRUE] [paid = FALSE])", "paid=TRUE OR paid=FALSE"},
		{"a string may touch a keyword", "a='x'AND b=1", "(and [a = the string 'x'] [b = the number 1])", "a='x'AND b=1"},
		{"tokens need no spaces", `"a"IN(1)AND(b<-1)`, "(and [a in the number 1] [b < the number -1])", "a IN(1)AND b<-1"},
		{"all whitespace separates", "a\t=\n1\r\nAND\fb\v=2", "(and [a = the number 1] [b = the number 2])", "a=1 AND b=2"},
		{"non-ASCII text is fine in strings and quoted names", `"café" = 'crème brûlée'`,
			"[café = the string 'crème brûlée']", `"café"='crème brûlée'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			if got := tree(e); got != tc.tree {
				t.Errorf("tree\n got %s\nwant %s", got, tc.tree)
			}
			if got := e.String(); got != tc.canon {
				t.Errorf("String() = %q, want %q", got, tc.canon)
			}
			again, err := Parse(e.String())
			if err != nil || tree(again) != tree(e) {
				t.Errorf("Parse(String()) = %v, %v; want the same tree", again, err)
			}
		})
	}
}

func TestParseErrorsSayWhereAndHowToFix(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		offset    int
		msg       string
	}{
		{"an empty expression is refused", "", 0, "the expression is empty"},
		{"a blank expression is refused", " \t\n", 0, "the expression is empty"},
		{"a missing literal names the operator", "amount = )", 9, `expected a literal after "=", found ")"`},
		{"the end of the text is named", "a =", 3, `expected a literal after "=", found the end of the expression`},
		{"NULL in a comparison points to IS NULL", "a = NULL", 4, "write a IS NULL"},
		{"NULL with <> points to IS NOT NULL", "a <> null", 5, "write a IS NOT NULL"},
		{"NULL in an IN list is refused", "a IN (1, NULL)", 9, "NULL cannot be listed in IN"},
		{"an empty IN list is refused", "a IN ()", 6, "expected a literal after IN (, found \")\""},
		{"IN needs a parenthesis", "a IN 1", 5, `expected "(" after IN, found the number 1`},
		{"IN items are separated by commas", "a IN (1 2)", 8, `expected "," or ")" in the IN list, found the number 2`},
		{"IS tests only NULL", "a IS 5", 5, "expected NULL after IS, found the number 5"},
		{"IS NOT tests only NULL", "a IS NOT TRUE", 9, "expected NULL after IS NOT, found \"TRUE\""},
		{"NOT after a column needs IN", "a NOT 5", 6, "expected IN after a NOT"},
		{"a literal cannot come first", "5 = a", 0, "expected a column name, found the number 5: write the column first"},
		{"a keyword cannot be a bare column name", "in = 1", 0, `quote a column named like a keyword, e.g. "in"`},
		{"a column needs an operator", "a 5", 2, "expected an operator (= != <> < <= > >=), IN, NOT IN or IS after the column a"},
		{"an unclosed parenthesis is named", "(a = 1", 6, `expected ")" to close the parenthesis at offset 0`},
		{"a stray parenthesis is refused", "a = 1)", 5, `expected AND, OR or the end after a complete condition, found ")"`},
		{"two conditions need AND or OR", "a = 1 b = 2", 6, "found the column name b: join conditions with AND or OR"},
		{"a dangling AND is refused", "a = 1 AND", 9, "expected a condition (a column name, NOT or a parenthesis), found the end"},
		{"a leading AND is refused", "AND a = 1", 0, `expected a condition (a column name, NOT or a parenthesis), found "AND"`},
		{"== is not an operator", "a == 1", 2, `"==" is not an operator: use =`},
		{"a lone ! is refused", "a ! 1", 2, `unexpected "!"`},
		{"an unterminated string is refused", "a = 'abc", 4, "unterminated string"},
		{"an unterminated quoted name is refused", `"abc = 1`, 0, "unterminated quoted identifier"},
		{"an empty quoted name is refused", `"" = 1`, 0, "empty quoted identifier"},
		{"a huge exponent is refused", "a = 1e1001", 5, "exponent of 1e1001 is out of range"},
		{"a number running into letters is refused", "a = 12abc", 4, `malformed number "12abc"`},
		{"a number with two points is refused", "a = 1.2.3", 4, `malformed number "1.2.3"`},
		{"an exponent needs digits", "a = 1e", 4, `malformed number "1e"`},
		{"a sign must touch its number", "a = - 1", 4, `unexpected "-": write a negative number`},
		{"a lone point is refused", "a = .", 4, `unexpected "."`},
		{"comments are refused", "a = 1 -- why", 6, `unexpected "--": a filter has no comments`},
		{"a semicolon is refused", "a = 1;", 5, `unexpected ";"`},
		{"a non-ASCII name must be quoted", "é = 1", 0, `write a column name with non-ASCII letters in double quotes, e.g. "é"`},
		{"a non-ASCII space is named", "a =\u00a01", 3, "unexpected character U+00A0, a non-ASCII space"},
		{"other characters are refused", "a = 1 & b = 2", 6, `unexpected character '&'`},
		{"a NUL byte is refused", "a = 'x\x00'", 6, "NUL byte"},
		{"invalid UTF-8 is refused", "a = '\xff'", 5, "invalid UTF-8 byte 0xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(tc.src)
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) = %v, %v; want an *Error", tc.src, e, err)
			}
			if perr.Offset != tc.offset || !strings.Contains(perr.Msg, tc.msg) {
				t.Errorf("Parse(%q) error %q\nwant offset %d and a message containing %q", tc.src, err, tc.offset, tc.msg)
			}
			if want := fmt.Sprintf("where: at offset %d: ", perr.Offset); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want the prefix %q", err, want)
			}
		})
	}
}

func TestParseEnforcesItsLimits(t *testing.T) {
	list := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprint(i)
		}
		return "a IN (" + strings.Join(items, ",") + ")"
	}
	for _, tc := range []struct {
		name, src string
		ok        bool
		offset    int
		msg       string
	}{
		{"64 levels of parentheses are accepted", nest("(", 64, "a = 1", ")"), true, 0, ""},
		{"65 levels of parentheses are refused", nest("(", 65, "a = 1", ")"), false, 64, "nesting deeper than 64 levels"},
		{"64 NOTs are accepted", nest("NOT ", 64, "a = 1", ""), true, 0, ""},
		{"65 NOTs are refused", nest("NOT ", 65, "a = 1", ""), false, 256, "nesting deeper than 64 levels"},
		{"parentheses and NOTs count together", nest("NOT (", 33, "a = 1", ")"), false, 160, "nesting deeper"},
		{"an IN list of 1000 values is accepted", list(MaxInList), true, 0, ""},
		{"an IN list of 1001 values is refused", list(MaxInList + 1), false, len(list(MaxInList)), "more than 1000 values"},
		{"4096 bytes are accepted", pad("a = 1", MaxBytes), true, 0, ""},
		{"4097 bytes are refused", pad("a = 1", MaxBytes+1), false, MaxBytes, "4097 bytes, more than the limit of 4096"},
		{"a very long expression is refused before it is read", strings.Repeat("(", 1<<20), false, MaxBytes, "1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.src)
			if tc.ok {
				if err != nil {
					t.Fatalf("Parse (%d bytes): %v", len(tc.src), err)
				}
				return
			}
			var perr *Error
			if !errors.As(err, &perr) || perr.Offset != tc.offset || !strings.Contains(perr.Msg, tc.msg) {
				t.Fatalf("Parse (%d bytes) error %v, want offset %d and %q", len(tc.src), err, tc.offset, tc.msg)
			}
		})
	}
}

// nest wraps inner in n copies of open and close.
func nest(open string, n int, inner, close string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// pad appends spaces to s up to n bytes.
func pad(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
