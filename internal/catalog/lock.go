package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Lock is a session advisory lock held on a dedicated connection: if the
// process dies, PostgreSQL ends the session and the lock is released.
type Lock struct {
	conn *pgxpool.Conn
	key  string
}

// TryLock takes the advisory lock named key without waiting. It returns
// (nil, nil) when another session holds it.
func TryLock(ctx context.Context, pool *pgxpool.Pool, key string) (*Lock, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if !ok {
		conn.Release()
		return nil, nil
	}
	return &Lock{conn: conn, key: key}, nil
}

// Unlock releases the lock and returns its connection to the pool.
func (l *Lock) Unlock(ctx context.Context) error {
	defer l.conn.Release()
	var ok bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.key).Scan(&ok); err != nil {
		// The session may be broken; closing it releases the lock.
		_ = l.conn.Conn().Close(ctx)
		return fmt.Errorf("unlock %s: %w", l.key, err)
	}
	return nil
}
