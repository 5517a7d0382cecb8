package parquetio

import "fmt"

// DecodeRow decodes one row in PostgreSQL's binary result format, as
// returned by a query run with s's SelectList and ResultFormats (pgx's
// rows.RawValues()), into dst, one Value per column, exactly as a Reader
// would return the same row after archiving: so rows still in the database
// and archived rows render and compare alike. Byte data is copied into
// *arena; the Values stay valid until the arena is reused.
func (s *Schema) DecodeRow(raw [][]byte, dst []Value, arena *[]byte) error {
	if len(raw) != len(s.types) || len(dst) != len(s.types) {
		return fmt.Errorf("decode row: %d values for %d columns", len(raw), len(s.types))
	}
	for i, r := range raw {
		v, err := s.decodeValue(i, r, arena)
		if err != nil {
			return fmt.Errorf("column %q: %w", s.cols[i].Name, err)
		}
		dst[i] = v
	}
	return nil
}

func (s *Schema) decodeValue(i int, raw []byte, arena *[]byte) (Value, error) {
	t := s.types[i]
	if raw == nil {
		return Value{kind: t.kind, null: true, array: t.array}, nil
	}
	if !t.array {
		return decodeScalar(t.kind, raw, arena)
	}
	h, err := parseArrayHeader(raw)
	if err != nil {
		return Value{}, err
	}
	v := Value{kind: t.kind, array: true, elems: make([]Value, h.n)}
	for j := range h.n {
		e, err := h.next()
		if err != nil {
			return Value{}, err
		}
		if e == nil {
			v.elems[j] = NullValue(t.kind)
			continue
		}
		if v.elems[j], err = decodeScalar(t.kind, e, arena); err != nil {
			return Value{}, fmt.Errorf("element %d: %w", j+1, err)
		}
	}
	return v, nil
}

// decodeScalar goes through the writer's own conversion, so that a value
// decoded here equals the value read back from a file.
func decodeScalar(k Kind, raw []byte, arena *[]byte) (Value, error) {
	var scratch []byte
	pv, err := scalarValue(k, raw, &scratch)
	if err != nil {
		return Value{}, err
	}
	return fromParquet(k, pv, arena), nil
}
