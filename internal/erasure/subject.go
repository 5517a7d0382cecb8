package erasure

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/parquetio"
)

// Key is the secret of the ledger's keyed hashes.
type Key struct {
	secret []byte
	// ID names the key (not secret): a hash of it, stored beside each
	// ledger row, so a changed key is noticed instead of matching nothing.
	ID string
}

// minKeyBytes is the shortest key accepted: 256 bits.
const minKeyBytes = 32

// LoadKey reads the key file, creating it (32 random bytes, hex, mode
// 0600) when it does not exist.
func LoadKey(path string) (Key, error) {
	if path == "" {
		return Key{}, fmt.Errorf("%w: erasure.key_file is not set: name a file outside the database "+
			"(e.g. /etc/strata/erasure.key; Strata creates it on first use) and back it up with the config", ErrInvalid)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b, err = createKey(path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("erasure key %s: %w", path, err)
	}
	secret := []byte(strings.TrimRight(string(b), "\r\n"))
	if len(secret) < minKeyBytes {
		return Key{}, fmt.Errorf("%w: erasure key %s has %d bytes: use at least %d (e.g. `openssl rand -hex 32 > %s`)",
			ErrInvalid, path, len(secret), minKeyBytes, path)
	}
	return NewKey(secret), nil
}

// NewKey makes a Key of secret.
func NewKey(secret []byte) Key {
	id := sha256.Sum256(append([]byte("strata erasure key id\x00"), secret...))
	return Key{secret: secret, ID: hex.EncodeToString(id[:8])}
}

func createKey(path string) ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	text := []byte(hex.EncodeToString(raw) + "\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return os.ReadFile(path) // another process created it first
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(text); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return text, f.Close()
}

// Hash is the subject's keyed hash (HMAC-SHA-256), lower-case hex.
func (k Key) Hash(subject string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil))
}

// subjectCol is a Layer 2 subject column the value can be in.
type subjectCol struct {
	col parquetio.Column
	// raw is the value in PostgreSQL's binary form of the column's type.
	raw []byte
}

// analyticsColumns returns the subject columns of Layer 2 that can hold
// value (the others are noted), checking that value is in the type's
// canonical text form, so that comparing text (archived objects, the
// ledger) and comparing values agree.
func analyticsColumns(ctx context.Context, db dbConn, cols []parquetio.Column, names []string, value string, notes *[]string) ([]subjectCol, error) {
	byName := map[string]parquetio.Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	var out []subjectCol
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("%w: subject.columns: column %q is not in the analytics table", ErrInvalid, n)
		}
		var canon string
		var raw []byte
		err := db.QueryRow(ctx, `SELECT ($1::text)::`+c.TypeName+`::text`, value).Scan(&canon)
		if err == nil {
			raw, err = binaryValue(ctx, db, c.TypeName, value)
		}
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22"):
			*notes = append(*notes, fmt.Sprintf("column %s is %s: the subject cannot be in it (%s)", n, c.TypeName, pe.Message))
			continue
		case err != nil:
			return nil, fmt.Errorf("subject column %s: %w", n, err)
		case canon != value:
			return nil, fmt.Errorf("%w: subject %q is written %q as a %s (column %s): give it in that form", ErrInvalid, value, canon, c.TypeName, n)
		}
		out = append(out, subjectCol{col: c, raw: raw})
	}
	return out, nil
}

// binaryValue is value cast to typ, in PostgreSQL's binary format.
func binaryValue(ctx context.Context, db dbConn, typ, value string) ([]byte, error) {
	rows, err := db.Query(ctx, `SELECT ($1::text)::`+typ, pgx.QueryResultFormats{pgx.BinaryFormatCode}, value)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var raw []byte
	for rows.Next() {
		raw = append([]byte(nil), rows.RawValues()[0]...)
	}
	return raw, rows.Err()
}

// dbConn is what the erasure needs of a transaction or pool.
type dbConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// layer2Pred is the condition on a Layer 2 row ($1 the subject): one of
// the columns equals it, compared as the column's type.
func layer2Pred(cols []subjectCol) string {
	if len(cols) == 0 {
		return "false"
	}
	var or []string
	for _, c := range cols {
		or = append(or, pgx.Identifier{c.col.Name}.Sanitize()+` = ($1::text)::`+c.col.TypeName)
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// objectPred is the condition on the rows of an archived analytics object
// with columns have ($1 the subject): one of the subject columns, as
// text, equals it.
func objectPred(cols []subjectCol, have map[string]string) string {
	var or []string
	for _, c := range cols {
		if _, ok := have[c.col.Name]; ok {
			or = append(or, pgx.Identifier{c.col.Name}.Sanitize()+`::text = $1`)
		}
	}
	if len(or) == 0 {
		return "false"
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// subjectExpr is the subject of a raw record ($2 the JSON path as
// text[], see sourceArgs), as text.
func subjectExpr(s *config.SubjectSpec, payload, typ string) string {
	if s.SourceSQL != "" {
		return `(` + s.SourceSQL + `)::text`
	}
	p := pgx.Identifier{payload}.Sanitize()
	doc := p + `::text::jsonb`
	if typ == "bytea" {
		doc = `convert_from(` + p + `, 'UTF8')::jsonb`
	}
	return `(` + doc + ` #>> $2::text[])`
}

// sourceArgs are the arguments of sourcePred.
func sourceArgs(s *config.SubjectSpec, subject string) []any {
	if s.SourceSQL != "" {
		return []any{subject}
	}
	return []any{subject, s.PathKeys()}
}

// sourcePred is the condition on a raw record ($1 the subject, $2 the
// JSON path as text[]: sourceArgs) of a table whose payload column has
// type typ.
func sourcePred(s *config.SubjectSpec, payload, typ string) string {
	return `(` + subjectExpr(s, payload, typ) + ` = $1)`
}
