package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lock is a session advisory lock held on a session that does nothing
// else, outside the caller's pool (so that held locks can never starve its
// connections): if the process dies, PostgreSQL ends the session and the
// lock is released.
type Lock struct {
	conn   *pgx.Conn     // a session of its own (TryLock)
	pooled *pgxpool.Conn // or a reused lock session (Catalog.TryLock)
	key    string
}

// lockAcquireWait is how long Catalog.TryLock waits for a free lock
// session before it opens one of its own: never waiting on the lock pool
// means holders of one lock can never deadlock waiting for a session for
// a second.
const lockAcquireWait = 100 * time.Millisecond

// TryLock takes the advisory lock named key without waiting, on a reused
// lock session (a new session costs PostgreSQL tens of milliseconds). It
// returns (nil, nil) when another session holds it.
func (c *Catalog) TryLock(ctx context.Context, key string) (*Lock, error) {
	actx, cancel := context.WithTimeout(ctx, lockAcquireWait)
	pc, err := c.locks.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		}
		return TryLock(ctx, c.pool, key) // every lock session is busy
	}
	ok, err := tryAdvisory(ctx, pc.Conn(), key)
	if err != nil || !ok {
		if err != nil {
			pc.Conn().Close(context.WithoutCancel(ctx))
		}
		pc.Release()
		return nil, err
	}
	return &Lock{pooled: pc, key: key}, nil
}

// TryLock takes the advisory lock named key without waiting, on a new
// session of its own. It returns (nil, nil) when another session holds it.
func TryLock(ctx context.Context, pool *pgxpool.Pool, key string) (*Lock, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("lock %s: connect: %w", key, err)
	}
	ok, err := tryAdvisory(ctx, conn, key)
	if err != nil || !ok {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return &Lock{conn: conn, key: key}, nil
}

// Lock waits for the advisory lock named key on a lock session (reused,
// or of its own when every reused one is busy), never on a connection of
// the caller's pool: a waiter holds nothing the holder of the lock may need.
// If ctx ends first, the session is closed (releasing the lock should it
// have been granted meanwhile) and ctx's error is returned.
func (c *Catalog) Lock(ctx context.Context, key string) (*Lock, error) {
	actx, cancel := context.WithTimeout(ctx, lockAcquireWait)
	pc, err := c.locks.Acquire(actx)
	cancel()
	l := &Lock{pooled: pc, key: key}
	var conn *pgx.Conn
	switch {
	case err == nil:
		conn = pc.Conn()
	case ctx.Err() != nil:
		return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
	default: // every lock session is busy
		if conn, err = pgx.ConnectConfig(ctx, c.pool.Config().ConnConfig.Copy()); err != nil {
			return nil, fmt.Errorf("lock %s: connect: %w", key, err)
		}
		l = &Lock{conn: conn, key: key}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		if pc != nil {
			pc.Release()
		}
		return nil, fmt.Errorf("wait for lock %s: %w", key, err)
	}
	return l, nil
}

func tryAdvisory(ctx context.Context, conn *pgx.Conn, key string) (bool, error) {
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
		return false, fmt.Errorf("lock %s: %w", key, err)
	}
	return ok, nil
}

// Unlock releases the lock: a session of its own unlocks and ends; a
// reused session unlocks and goes back to the lock pool, or is closed if
// that fails, so a session still holding the lock is never reused.
func (l *Lock) Unlock(ctx context.Context) error {
	if l.conn != nil {
		// Unlock before closing: the server ends a closed session (and
		// releases its locks) a moment after the client has gone, and a
		// process starting right after this one must find the lock free.
		_, uerr := l.conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.key)
		if err := l.conn.Close(ctx); err != nil || uerr != nil {
			return fmt.Errorf("unlock %s: %w", l.key, errors.Join(uerr, err))
		}
		return nil
	}
	defer l.pooled.Release()
	var ok bool
	err := l.pooled.Conn().QueryRow(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.key).Scan(&ok)
	if err == nil && !ok {
		err = errors.New("the session did not hold it")
	}
	if err != nil {
		l.pooled.Conn().Close(context.WithoutCancel(ctx)) // ends the session, and with it the lock
		return fmt.Errorf("unlock %s: %w", l.key, err)
	}
	return nil
}
