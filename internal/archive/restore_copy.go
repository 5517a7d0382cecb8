package archive

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// This file reads committed objects back into PostgreSQL, for Restore and
// Supersede: download, check against the catalog, COPY.

// fetchObject downloads o into an unlinked spool file and checks its size
// and SHA-256 against the catalog before a byte of it is trusted.
func (a *Archiver) fetchObject(ctx context.Context, o catalog.Object) (*os.File, error) {
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return nil, err
	}
	dir, err := a.spoolDir()
	if err != nil {
		return nil, err
	}
	return storage.Fetch(ctx, a.Store, key, o.VersionID, o.Bytes, o.SHA256, dir)
}

// copyObject downloads and checks o, then COPYs its rows into table (a
// quoted name) on tx's connection, matching columns by name: every column
// of the object must be one of cols (the table's columns), so that no
// archived value is silently dropped; a table column the object lacks
// takes its default. It returns the rows copied, which it checks against
// the file and the catalog. display names the table in messages.
func (a *Archiver) copyObject(ctx context.Context, tx pgx.Tx, o catalog.Object, table, display string, cols map[string]bool) (int64, error) {
	return a.CopyObject(ctx, tx.Conn(), o, table, display, cols)
}

// CopyObject is copyObject on a connection: compare reads the objects that
// hold the keys it looks for into a temporary table of its session.
func (a *Archiver) CopyObject(ctx context.Context, conn *pgx.Conn, o catalog.Object, table, display string, cols map[string]bool) (int64, error) {
	f, err := a.fetchObject(ctx, o)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	pr, err := parquetio.Open(f, o.Bytes)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", o.Key, err)
	}
	if pr.NumRows() != o.Rows {
		return 0, fmt.Errorf("%s holds %d rows, the catalog recorded %d; nothing was changed (run 'strata verify --deep')", o.Key, pr.NumRows(), o.Rows)
	}
	names := make([]string, 0, len(pr.Schema().Columns()))
	for _, c := range pr.Schema().Columns() {
		if !cols[c.Name] {
			return 0, &missingColumnError{fmt.Sprintf("%s has column %q (%s), which %s does not have: copying would drop its values",
				o.Key, c.Name, c.TypeName, display)}
		}
		names = append(names, pgx.Identifier{c.Name}.Sanitize())
	}
	it, err := pr.Rows(ctx, nil, nil)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", o.Key, err)
	}
	defer it.Close()
	src := &copyTextReader{it: it}
	tag, err := conn.PgConn().CopyFrom(ctx, src,
		`COPY `+table+` (`+strings.Join(names, ", ")+`) FROM STDIN`)
	if err != nil {
		return 0, fmt.Errorf("copy rows of %s into %s: %w", o.Key, display, err)
	}
	if n := tag.RowsAffected(); n != o.Rows || src.rows != o.Rows {
		return 0, fmt.Errorf("copy rows of %s into %s: copied %d of %d rows read, the catalog recorded %d", o.Key, display, n, src.rows, o.Rows)
	}
	return o.Rows, nil
}

// missingColumnError says that an object has a column the target lacks.
type missingColumnError struct{ msg string }

func (e *missingColumnError) Error() string { return e.msg }

// copyTextReader renders a RowIter as COPY's text format, one row per line,
// a buffer at a time, so that memory does not grow with the object.
type copyTextReader struct {
	it   *parquetio.RowIter
	buf  []byte
	val  []byte
	off  int
	rows int64
	done bool
}

func (r *copyTextReader) Read(p []byte) (int, error) {
	for r.off >= len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// fill renders rows until the buffer holds about 256 KiB or the rows end.
func (r *copyTextReader) fill() error {
	r.buf, r.off = r.buf[:0], 0
	for len(r.buf) < 256<<10 {
		if !r.it.Next() {
			if err := r.it.Err(); err != nil {
				return err
			}
			r.done = true
			return nil
		}
		for i, v := range r.it.Row() {
			if i > 0 {
				r.buf = append(r.buf, '\t')
			}
			if v.IsNull() {
				r.buf = append(r.buf, '\\', 'N')
				continue
			}
			r.val = v.AppendText(r.val[:0])
			r.buf = appendCopyEscaped(r.buf, r.val)
		}
		r.buf = append(r.buf, '\n')
		r.rows++
	}
	return nil
}

// appendCopyEscaped escapes a value's text for COPY's text format.
func appendCopyEscaped(dst, s []byte) []byte {
	for _, c := range s {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// tableColumns returns the names of a relation's columns and those of its
// generated columns (which take no values).
func tableColumns(ctx context.Context, tx pgx.Tx, oid uint32) (all []string, generated map[string]bool, err error) {
	rows, err := tx.Query(ctx, `SELECT attname, attgenerated <> '' FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, oid)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	generated = map[string]bool{}
	for rows.Next() {
		var name string
		var gen bool
		if err := rows.Scan(&name, &gen); err != nil {
			return nil, nil, fmt.Errorf("read columns: %w", err)
		}
		all = append(all, name)
		if gen {
			generated[name] = true
		}
	}
	return all, generated, rows.Err()
}

// set returns the names as a set.
func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
