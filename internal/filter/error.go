package filter

import "fmt"

// Limits on an expression, so that a request cannot make the parser, the
// evaluator or PostgreSQL do unbounded work.
const (
	// MaxBytes is the longest expression text accepted.
	MaxBytes = 4096
	// MaxDepth bounds the nesting of parentheses and NOTs.
	MaxDepth = 64
	// MaxInList bounds the number of values in one IN list.
	MaxInList = 1000
)

// Error is a syntax or type error in a filter expression: what is wrong
// and how to fix it, at a byte offset of the expression text.
type Error struct {
	// Offset is the byte offset in the expression where the problem is.
	Offset int
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error formats the error as "where: at offset N: message".
func (e *Error) Error() string {
	return fmt.Sprintf("where: at offset %d: %s", e.Offset, e.Msg)
}

// errorf returns an *Error at offset off.
func errorf(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}
