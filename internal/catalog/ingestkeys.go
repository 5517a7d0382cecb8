package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// IngestKey is one row of strata.ingest_keys: what was committed for an
// ingest request sent with an idempotency key.
type IngestKey struct {
	Dataset string
	Key     string
	// SHA256 identifies the request's records; Records counts them.
	SHA256  string
	Records int64
	// Stored records (the first ones, in order) are committed; Done once
	// all are, with the Answer the request got.
	Stored int64
	Done   bool
	Answer json.RawMessage
}

// LockIngestKeys reads the rows of keys of dataset, locking them until tx
// ends. Keys without a row are absent from the map.
func LockIngestKeys(ctx context.Context, tx pgx.Tx, dataset string, keys []string) (map[string]IngestKey, error) {
	out := map[string]IngestKey{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT key, sha256, records, stored, done, answer FROM strata.ingest_keys
		WHERE dataset = $1 AND key = ANY($2) FOR UPDATE`, dataset, keys)
	if err != nil {
		return nil, fmt.Errorf("catalog: read idempotency keys: %w", err)
	}
	k := IngestKey{Dataset: dataset}
	_, err = pgx.ForEachRow(rows, []any{&k.Key, &k.SHA256, &k.Records, &k.Stored, &k.Done, &k.Answer}, func() error {
		out[k.Key] = k
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: read idempotency keys: %w", err)
	}
	return out, nil
}

// ReadIngestKey reads one key's row without locking it; ok is false when
// there is none.
func ReadIngestKey(ctx context.Context, db DB, dataset, key string) (k IngestKey, ok bool, err error) {
	k = IngestKey{Dataset: dataset, Key: key}
	err = db.QueryRow(ctx, `SELECT sha256, records, stored, done, answer FROM strata.ingest_keys
		WHERE dataset = $1 AND key = $2`, dataset, key).Scan(&k.SHA256, &k.Records, &k.Stored, &k.Done, &k.Answer)
	if err == pgx.ErrNoRows {
		return k, false, nil
	}
	if err != nil {
		return k, false, fmt.Errorf("catalog: read idempotency key: %w", err)
	}
	return k, true, nil
}

// SaveIngestKeys writes the rows of keys in tx (the transaction that
// commits their records), kept for keep after their last change.
func SaveIngestKeys(ctx context.Context, tx pgx.Tx, keys []IngestKey, keep time.Duration) error {
	for _, k := range keys {
		if _, err := tx.Exec(ctx, `INSERT INTO strata.ingest_keys (dataset, key, sha256, records, stored, done, answer, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)
			ON CONFLICT (dataset, key) DO UPDATE SET stored = EXCLUDED.stored, done = EXCLUDED.done,
				answer = EXCLUDED.answer, updated_at = now(), expires_at = EXCLUDED.expires_at`,
			k.Dataset, k.Key, k.SHA256, k.Records, k.Stored, k.Done, k.Answer, keep); err != nil {
			return fmt.Errorf("catalog: record idempotency key: %w", err)
		}
	}
	return nil
}

// PurgeIngestKeys deletes the keys of dataset past their window (all
// datasets when dataset is empty) and returns how many; with dryRun it
// only counts them.
func PurgeIngestKeys(ctx context.Context, db DB, dataset string, dryRun bool) (int64, error) {
	where := ` WHERE expires_at < now() AND ($1 = '' OR dataset = $1)`
	if dryRun {
		var n int64
		err := db.QueryRow(ctx, `SELECT count(*) FROM strata.ingest_keys`+where, dataset).Scan(&n)
		return n, err
	}
	tag, err := db.Exec(ctx, `DELETE FROM strata.ingest_keys`+where, dataset)
	if err != nil {
		return 0, fmt.Errorf("catalog: purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
