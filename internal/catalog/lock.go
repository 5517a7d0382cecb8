package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lock is a session advisory lock held on a connection of its own, outside
// the pool (so that held locks can never starve the pool's connections): if
// the process dies, PostgreSQL ends the session and the lock is released.
type Lock struct {
	conn *pgx.Conn
	key  string
}

// TryLock takes the advisory lock named key without waiting. It returns
// (nil, nil) when another session holds it.
func TryLock(ctx context.Context, pool *pgxpool.Pool, key string) (*Lock, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("lock %s: connect: %w", key, err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if !ok {
		conn.Close(context.WithoutCancel(ctx))
		return nil, nil
	}
	return &Lock{conn: conn, key: key}, nil
}

// Unlock releases the lock by ending its session.
func (l *Lock) Unlock(ctx context.Context) error {
	if err := l.conn.Close(ctx); err != nil {
		return fmt.Errorf("unlock %s: %w", l.key, err)
	}
	return nil
}
