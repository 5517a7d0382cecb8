package catalog

import (
	"context"
	"fmt"
	"os"
)

// StartRun records the start of a run and returns its id. The caller
// should hold the run's lock (RunLockKey) while the run lives; BeginRun does both.
func (c *Catalog) StartRun(ctx context.Context, command, dataset, typ string) (int64, error) {
	host, _ := os.Hostname()
	var id int64
	err := c.pool.QueryRow(ctx, `INSERT INTO strata.runs (command, dataset, archive_type, host, pid)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, command, dataset, typ, host, os.Getpid()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("catalog: start run: %w", err)
	}
	return id, nil
}

// RunTotals are the figures a finished run records.
type RunTotals struct {
	Rows    int64
	Objects int
	Bytes   int64
}

// FinishRun records the end of run id; runErr nil means success.
func (c *Catalog) FinishRun(ctx context.Context, id int64, t RunTotals, runErr error) error {
	status, msg := "ok", ""
	if runErr != nil {
		status, msg = "failed", runErr.Error()
	}
	_, err := c.pool.Exec(ctx, `UPDATE strata.runs SET finished_at = now(), status = $2,
		rows = $3, objects = $4, bytes = $5, error = nullif($6, '') WHERE id = $1`,
		id, status, t.Rows, t.Objects, t.Bytes, msg)
	if err != nil {
		return fmt.Errorf("catalog: finish run %d: %w", id, err)
	}
	return nil
}

// BeginRun records a run and takes its run lock, which marks it alive for
// SettleDeadRuns until end is called or the process dies.
func (c *Catalog) BeginRun(ctx context.Context, command, dataset, typ string) (id int64, end func(), err error) {
	id, err = c.StartRun(ctx, command, dataset, typ)
	if err != nil {
		return 0, nil, err
	}
	l, err := c.TryLock(ctx, RunLockKey(id))
	if err != nil {
		return 0, nil, err
	}
	if l == nil {
		return 0, nil, fmt.Errorf("catalog: run %d: its lock is taken", id)
	}
	return id, func() { l.Unlock(context.WithoutCancel(ctx)) }, nil
}
