package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Filter selects records; zero fields match everything.
type Filter struct {
	Dataset string
	// From and To (inclusive) select records whose period overlaps
	// [From, To]; a record without a period (an archive run, a purge)
	// matches when it was written within [From, To].
	From, To time.Time
	// Who is an actor's name.
	Who string
	// Limit caps the records returned (the newest are dropped); 0 is
	// DefaultLimit.
	Limit int
}

// DefaultLimit is Filter.Limit's default.
const DefaultLimit = 10000

// List returns the records matching f in sequence order.
func List(ctx context.Context, pool *pgxpool.Pool, f Filter) ([]Record, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	rows, err := pool.Query(ctx, `SELECT `+columns+` FROM strata.audit
		WHERE ($1 = '' OR dataset = $1) AND ($2 = '' OR actor = $2)
		  AND ($3::timestamptz IS NULL OR coalesce(period_to, period_from, at) >= $3)
		  AND ($4::timestamptz IS NULL OR coalesce(period_from, period_to, at) <= $4)
		ORDER BY seq LIMIT $5`, f.Dataset, f.Who, micro(f.From), micro(f.To), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		if err := scanRecord(rows, &r); err != nil {
			return nil, err
		}
		r.At = r.At.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
