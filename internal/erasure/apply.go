package erasure

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/config"
)

// pads are the HMAC-SHA-256 key's inner and outer pads (RFC 2104), so that
// PostgreSQL computes the keyed hash of many values itself:
// sha256(opad || sha256(ipad || value)).
func (k Key) pads() (ipad, opad []byte) {
	kk := k.secret
	if len(kk) > sha256.BlockSize {
		s := sha256.Sum256(kk)
		kk = s[:]
	}
	ipad, opad = make([]byte, sha256.BlockSize), make([]byte, sha256.BlockSize)
	copy(ipad, kk)
	copy(opad, kk)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	return ipad, opad
}

// RecordFilter is applied to the raw records a replay (compare, replay
// --apply, and a rebuild of Layer 2 by replay) is about to transform: it
// deletes from table (with the Layer 3 columns) the records of subjects the
// ledger says were erased after the records were ingested, and returns how
// many. Records of a subject ingested after its erasure stay: a new
// relationship. A dataset without erasures costs one query.
type RecordFilter func(ctx context.Context, conn *pgx.Conn, table string) (int64, error)

// Filter returns the RecordFilter of ds; keyPath is erasure.key_file,
// read only when the dataset has erasures.
func Filter(ds *config.Dataset, keyPath string) RecordFilter {
	return func(ctx context.Context, conn *pgx.Conn, table string) (int64, error) {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM strata.erasures WHERE dataset = $1 AND status = 'done'`, ds.Name).Scan(&n); err != nil {
			return 0, fmt.Errorf("read the erasure ledger: %w", err)
		}
		if n == 0 || ds.Source == nil || ds.Subject == nil {
			return 0, nil
		}
		key, err := LoadKey(keyPath)
		if err != nil {
			return 0, fmt.Errorf("the erasure ledger of %s has %d erasures, to be applied with its key: %w", ds.Name, n, err)
		}
		return applyLedger(ctx, conn, ds, key, table)
	}
}

func applyLedger(ctx context.Context, conn *pgx.Conn, ds *config.Dataset, key Key, table string) (int64, error) {
	var other string
	if err := conn.QueryRow(ctx, `SELECT coalesce(min(key_id), '') FROM strata.erasures WHERE dataset = $1 AND status = 'done' AND key_id <> $2`,
		ds.Name, key.ID).Scan(&other); err != nil {
		return 0, fmt.Errorf("read the erasure ledger: %w", err)
	}
	if other != "" {
		return 0, fmt.Errorf("%w: erasures of %s were recorded with erasure key %s, but erasure.key_file now holds key %s: restore the key file the erasures were made with",
			ErrInvalid, ds.Name, other, key.ID)
	}
	var ptype string
	if err := conn.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`,
		table, ds.Source.PayloadColumn).Scan(&ptype); err != nil {
		return 0, fmt.Errorf("payload column of %s: %w", table, err)
	}
	ipad, opad := key.pads()
	args := append(sourceArgs(ds.Subject, ""), ds.Name, ipad, opad)
	expr := subjectExpr(ds.Subject, ds.Source.PayloadColumn, ptype)
	tc := pgx.Identifier{ds.Source.TimeColumn}.Sanitize()
	tag, err := conn.Exec(ctx, fmt.Sprintf(`DELETE FROM %s s USING
		(SELECT subject_hmac, max(at) AS at FROM strata.erasures WHERE dataset = $%d AND status = 'done' GROUP BY 1) l
		WHERE $1::text IS NOT NULL AND s.%s::timestamptz < l.at
		  AND l.subject_hmac = encode(sha256($%d::bytea || sha256($%d::bytea || convert_to((%s)::text, 'UTF8'))), 'hex')`,
		table, len(args)-2, tc, len(args), len(args)-1, expr), args...)
	if err != nil {
		return 0, fmt.Errorf("apply the erasure ledger to %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}
