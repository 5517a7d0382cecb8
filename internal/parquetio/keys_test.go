package parquetio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

var keyColumns = []parquetio.Column{{Name: "id", TypeOID: 20, TypeName: "bigint"}, {Name: "name", TypeOID: 25, TypeName: "text"}}

func bigint(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// keyFile writes ids first..last (names "n<id>") with the given options,
// in row groups of 100 rows.
func keyFile(t *testing.T, first, last int64, keys []string) *parquetio.Reader {
	t.Helper()
	s, err := parquetio.NewSchema(keyColumns)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{KeyColumns: keys, RowGroupRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	for id := first; id <= last; id += 2 { // even ids only
		if err := w.WriteRaw([][]byte{bigint(id), []byte("n" + string(rune('a'+id%26)))}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 && (!st.HasKeyRange || st.KeyMin != "1000" || st.KeyMax != "1998") {
		t.Fatalf("key range %+v, want 1000..1998", st)
	}
	r, err := parquetio.OpenWith(bytes.NewReader(buf.Bytes()), int64(buf.Len()), parquetio.OpenOptions{BloomFilters: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeySetsAreFoundByStatisticsBloomFiltersAndKeyColumns(t *testing.T) {
	ks := func(ids ...int64) *parquetio.KeySet {
		s, err := parquetio.NewKeySet(keyColumns[:1])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := s.Add([][]byte{bigint(id)}); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		keys      []string
		ids       []int64
		may, hold bool
	}{
		{"a key in the file is found", []string{"id"}, []int64{5, 1500}, true, true},
		{"keys outside every row group's range are ruled out by statistics", []string{"id"}, []int64{5, 999, 2000}, false, false},
		{"a file without bloom filters is ruled out by statistics alone", nil, []int64{3, 4000}, false, false},
		{"a file without bloom filters may hold absent keys inside its range", nil, []int64{1501}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keyFile(t, 1000, 1999, tc.keys)
			may, err := r.MayHoldAny(ks(tc.ids...))
			if err != nil || may != tc.may {
				t.Fatalf("MayHoldAny = %v, %v; want %v", may, err, tc.may)
			}
			hold, err := r.HoldsAny(ctx, ks(tc.ids...))
			if err != nil || hold != tc.hold {
				t.Fatalf("HoldsAny = %v, %v; want %v", hold, err, tc.hold)
			}
		})
	}
	// Odd ids lie inside the file's range but are absent: statistics
	// cannot rule them out, the bloom filters rule out almost all (10 bits
	// a value: about 1% pass).
	r := keyFile(t, 1000, 1999, []string{"id"})
	var passed int
	for id := int64(1001); id < 2000; id += 2 {
		if may, err := r.MayHoldAny(ks(id)); err != nil {
			t.Fatal(err)
		} else if may {
			passed++
		}
	}
	if passed > 25 {
		t.Errorf("%d of 500 absent keys inside the range passed the bloom filters", passed)
	}
	t.Logf("%d of 500 absent keys passed the bloom filters", passed)
}

// TestTextAndUUIDKeysAreFoundByTheirBytes: a composite key of text and
// uuid columns (dictionary-encoded text included) is found when present
// and ruled out when one of its values differs.
func TestTextAndUUIDKeysAreFoundByTheirBytes(t *testing.T) {
	cols := []parquetio.Column{{Name: "code", TypeOID: 25, TypeName: "text"}, {Name: "u", TypeOID: 2950, TypeName: "uuid"}}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	uuid := func(i byte) []byte { return []byte{i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} }
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{KeyColumns: []string{"code", "u"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		code := []byte{'k', byte('a' + i%5)} // five values: dictionary encoded
		if err := w.WriteRaw([][]byte{code, uuid(byte(i))}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.HasKeyRange {
		t.Errorf("a text key got a key range %q..%q: text orders by collation, not bytes", st.KeyMin, st.KeyMax)
	}
	r, err := parquetio.OpenWith(bytes.NewReader(buf.Bytes()), int64(buf.Len()), parquetio.OpenOptions{BloomFilters: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code string
		u    byte
		want bool
	}{{"kc", 7, true}, {"kd", 7, false}, {"kc", 250, false}, {"zz", 1, false}} {
		ks, err := parquetio.NewKeySet(cols)
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.Add([][]byte{[]byte(tc.code), uuid(tc.u)}); err != nil {
			t.Fatal(err)
		}
		hold, err := r.HoldsAny(context.Background(), ks)
		if err != nil || hold != tc.want {
			t.Errorf("key (%s, %d): HoldsAny = %v, %v; want %v", tc.code, tc.u, hold, err, tc.want)
		}
		if may, err := r.MayHoldAny(ks); err != nil || (tc.want && !may) {
			t.Errorf("key (%s, %d): MayHoldAny = %v, %v for a key the file holds", tc.code, tc.u, may, err)
		}
	}
}
