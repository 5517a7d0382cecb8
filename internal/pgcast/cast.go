// Package pgcast converts archived values to the type their column has
// now, as PostgreSQL's cast from the old type to the new one does: the
// conversion ALTER TABLE ... ALTER COLUMN ... TYPE applies, without USING,
// to the rows still in the table. Retrieval reads every archived value
// through it, so a filter compares, and the output shows, the values that
// the table would hold had the rows stayed in it.
//
// The casts covered are those ALTER COLUMN TYPE applies without USING
// between the types Strata archives: the numeric family (smallint,
// integer, bigint, real, double precision, numeric with or without a
// precision and scale) both ways, the string types (text, varchar(n),
// char(n), name, citext) among themselves, any scalar to a string type
// (its text output), date, timestamp and timestamptz among themselves
// (and with a precision), timestamp and timestamptz to time, json and
// jsonb both ways, and arrays of these element by element. Any other
// change of type (one made with a USING expression, which the archive does
// not record) is an [ErrNoCast] from [Plan]. A value the cast refuses (out
// of range, too long, NaN to an integer) is a [*ValueError].
//
// Time zones: timestamp and timestamptz convert in UTC, the time zone of
// Strata's sessions.
package pgcast

import (
	"errors"
	"fmt"

	"github.com/stratahq/strata/internal/parquetio"
)

// ErrNoCast is returned by Plan when PostgreSQL has no cast from one type
// to the other that ALTER COLUMN TYPE applies without USING.
var ErrNoCast = errors.New("no cast")

// ValueError is a value that the cast refuses, as PostgreSQL would.
type ValueError struct {
	From, To string // the type names
	Value    string // the value, in PostgreSQL's text form (clipped)
	Reason   string // e.g. "out of range", "value too long"
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("%s value %s cannot be cast to %s: %s", e.From, e.Value, e.To, e.Reason)
}

// Cast converts values of one column type to another. A Cast is immutable
// and safe for concurrent use.
type Cast struct {
	from, to Type
	conv     scalarConv
	order    bool
}

// scalarConv converts one non-NULL scalar value, appending any bytes it
// makes to *arena. It returns a reason (the ValueError's) when the value
// cannot be cast; a NULL result is a NULL Value.
type scalarConv func(v parquetio.Value, arena *[]byte) (parquetio.Value, string)

// Plan returns the cast from column type from to column type to, or nil
// when the two store the same values alike (no conversion needed). It
// returns an error wrapping ErrNoCast when there is no such cast.
func Plan(from, to parquetio.Column) (*Cast, error) {
	f, err := TypeOf(from)
	if err != nil {
		return nil, err
	}
	t, err := TypeOf(to)
	if err != nil {
		return nil, err
	}
	if f.same(t) {
		return nil, nil
	}
	if f.Array != t.Array {
		return nil, fmt.Errorf("%w from %s to %s: one is an array and the other is not", ErrNoCast, f.Name, t.Name)
	}
	conv, order := planScalar(f, t)
	if conv == nil {
		return nil, fmt.Errorf("%w from %s to %s", ErrNoCast, f.Name, t.Name)
	}
	return &Cast{from: f, to: t, conv: conv, order: order}, nil
}

// PreservesOrder reports whether the cast keeps the order the filter gives
// the target type (x <= y implies cast(x) <= cast(y)), so that row-group
// bounds of the old type, cast, still bound the cast values.
func (c *Cast) PreservesOrder() bool { return c.order }

// From returns the type values are cast from.
func (c *Cast) From() Type { return c.from }

// To returns the type values are cast to.
func (c *Cast) To() Type { return c.to }

// Convert casts v (NULL stays NULL, an array casts element by element),
// appending any bytes it makes to *arena: the result shares memory with
// v and *arena.
func (c *Cast) Convert(v parquetio.Value, arena *[]byte) (parquetio.Value, error) {
	if v.IsNull() {
		if c.to.Array {
			return parquetio.NullArray(c.to.Kind), nil
		}
		return parquetio.NullValue(c.to.Kind), nil
	}
	if !v.IsArray() {
		return c.scalar(v, arena)
	}
	elems := make([]parquetio.Value, len(v.Elems()))
	for i, e := range v.Elems() {
		if e.IsNull() {
			elems[i] = parquetio.NullValue(c.to.Kind)
			continue
		}
		x, err := c.scalar(e, arena)
		if err != nil {
			return parquetio.Value{}, err
		}
		elems[i] = x
	}
	return parquetio.ArrayValue(c.to.Kind, elems), nil
}

func (c *Cast) scalar(v parquetio.Value, arena *[]byte) (parquetio.Value, error) {
	out, reason := c.conv(v, arena)
	if reason != "" {
		text := string(appendValueText(nil, v))
		if len(text) > 60 {
			text = text[:57] + "..."
		}
		return parquetio.Value{}, &ValueError{From: c.from.Name, To: c.to.Name, Value: text, Reason: reason}
	}
	return out, nil
}

// planScalar picks the conversion of the element type, and whether it
// preserves order.
func planScalar(f, t Type) (scalarConv, bool) {
	switch {
	case t.isString():
		return toString(f, t)
	case isInt(t.Kind):
		return toInt(f, t), isInt(f.Kind)
	case t.Kind == parquetio.KindFloat32 || t.Kind == parquetio.KindFloat64:
		return toFloat(f, t), false
	case t.Kind == parquetio.KindNumeric:
		return toNumeric(f, t), false
	case t.Kind == parquetio.KindDate || t.Kind == parquetio.KindTimestamp || t.Kind == parquetio.KindTimestamptz:
		return toTimestamp(f, t), true
	case t.Kind == parquetio.KindTime:
		return toTime(f, t)
	case t.Kind == parquetio.KindJSON || t.Kind == parquetio.KindJSONB:
		return toJSON(f, t), false
	}
	return nil, false
}

func isInt(k parquetio.Kind) bool {
	return k == parquetio.KindInt16 || k == parquetio.KindInt32 || k == parquetio.KindInt64
}
