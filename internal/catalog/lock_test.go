package catalog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgtest"
)

func openCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	_, pool := pgtest.NewDB(t)
	c, err := catalog.Open(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestALockIsExclusiveAndFreeAgainAfterUnlock(t *testing.T) {
	ctx := context.Background()
	c := openCatalog(t)
	l, err := c.TryLock(ctx, "k")
	if err != nil || l == nil {
		t.Fatalf("first lock: %v %v", l, err)
	}
	if again, err := c.TryLock(ctx, "k"); err != nil || again != nil {
		t.Fatalf("a held lock was taken again: %v %v", again, err)
	}
	if other, err := catalog.TryLock(ctx, c.Pool(), "k"); err != nil || other != nil {
		t.Fatalf("a held lock was taken by a session of its own: %v %v", other, err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	// The session went back to the lock pool without the lock: taking the
	// lock from elsewhere works, and so does taking it again.
	other, err := catalog.TryLock(ctx, c.Pool(), "k")
	if err != nil || other == nil {
		t.Fatalf("after unlock, another session could not lock: %v %v", other, err)
	}
	if again, err := c.TryLock(ctx, "k"); err != nil || again != nil {
		t.Fatalf("a reused session took a lock held elsewhere: %v %v", again, err)
	}
	other.Unlock(ctx)
}

// Holding more locks than the lock pool has sessions must not block: the
// extra locks get sessions of their own, so holders never wait on each other.
func TestMoreLocksThanLockSessionsAreTakenWithoutWaiting(t *testing.T) {
	ctx := context.Background()
	c := openCatalog(t)
	var held []*catalog.Lock
	for i := range 40 {
		l, err := c.TryLock(ctx, fmt.Sprintf("k%d", i))
		if err != nil || l == nil {
			t.Fatalf("lock %d: %v %v", i, l, err)
		}
		held = append(held, l)
	}
	for _, l := range held {
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A session of its own is released by ending it, which PostgreSQL
	// completes a moment after the client hangs up.
	var n int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := c.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d advisory locks still held 5 s after unlocking all", n)
		}
	}
}

// A lock whose session dies is released by PostgreSQL; Unlock then reports
// the failure and the dead session is not reused.
func TestALockWhoseSessionDiedIsFree(t *testing.T) {
	ctx := context.Background()
	c := openCatalog(t)
	l, err := c.TryLock(ctx, "k")
	if err != nil || l == nil {
		t.Fatal(err)
	}
	// The timeout makes PostgreSQL wait until the session has exited (and so
	// let go of its locks) instead of only signalling it.
	if _, err := c.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	other, err := catalog.TryLock(ctx, c.Pool(), "k")
	if err != nil || other == nil {
		t.Fatalf("the lock of a dead session is still held: %v %v", other, err)
	}
	other.Unlock(ctx)
	if err := l.Unlock(ctx); err == nil {
		t.Fatal("unlocking on a dead session reported success")
	}
	if again, err := c.TryLock(ctx, "k2"); err != nil || again == nil {
		t.Fatalf("a lock after a dead session: %v %v", again, err)
	}
}
