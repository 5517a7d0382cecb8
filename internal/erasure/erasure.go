// Package erasure removes a data subject's records from every place Strata
// keeps them (GDPR Art. 17): Layer 3, Layer 2, the source archive and the
// analytics archive. Rows are deleted from the database; every archived
// object holding the subject is replaced, with the archive protocol, by a
// copy without the subject's rows, the old object leaving every read at once
// and deleted from storage as soon as its retention allows. All of it is one
// database transaction, so a crash at any step leaves either nothing done
// (its uploads are adopted by the rerun) or everything. Each erasure, or
// refusal, is recorded in the ledger (strata.erasures) with the subject only
// as a keyed hash, and a certificate of what was found and removed.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

// ErrInvalid matches errors caused by the request or the configuration.
var ErrInvalid = errors.New("invalid erasure request")

// RefusedError says that an erasure was refused, and why; the refusal is
// recorded in the ledger (unless a dry run). It matches ErrInvalid.
type RefusedError struct {
	Certificate Certificate
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("erasure of a subject of %s refused: %s", e.Certificate.Dataset, e.Certificate.Refusal)
}

// Is reports whether target is ErrInvalid.
func (e *RefusedError) Is(target error) bool { return target == ErrInvalid }

// HoldCheck returns the refusal naming the legal holds that cover records
// of dataset of archive type typ in [from, to] (nil when none do), or the
// error that kept it from telling.
type HoldCheck func(ctx context.Context, dataset, typ string, from, to time.Time) (refusal, err error)

// Eraser erases subjects.
type Eraser struct {
	Pool *pgxpool.Pool
	Arch *archive.Archiver
	Key  Key
	// Holds, when set, refuses erasing records under a legal hold.
	Holds HoldCheck
	Log   *slog.Logger
}

// Request asks for one subject's records to be erased from a dataset.
type Request struct {
	Subject string
	Reason  string
	DryRun  bool
}

// maxSubjectBytes bounds a subject value.
const maxSubjectBytes = 1024

func (r Request) validate(ds *config.Dataset) error {
	switch {
	case ds.Subject == nil:
		return fmt.Errorf("%w: dataset %s has no subject: in the config (say which analytics column(s) and which JSON path or SQL expression of the raw record hold the subject, see docs/CONFIG.md)", ErrInvalid, ds.Name)
	case r.Subject == "":
		return fmt.Errorf("%w: the subject is empty (give the value that identifies the person, e.g. --subject 1042)", ErrInvalid)
	case len(r.Subject) > maxSubjectBytes || strings.ContainsRune(r.Subject, 0):
		return fmt.Errorf("%w: the subject must be at most %d bytes of text", ErrInvalid, maxSubjectBytes)
	case strings.TrimSpace(r.Reason) == "":
		return fmt.Errorf("%w: the reason is empty (say why, e.g. --reason \"GDPR Art. 17 request #123\")", ErrInvalid)
	case len(r.Reason) > 4096:
		return fmt.Errorf("%w: the reason is longer than 4096 bytes", ErrInvalid)
	}
	return nil
}

// Erase finds and removes the subject's records from ds (see the package
// comment). It returns the certificate; a refusal is a *RefusedError
// carrying the certificate of the refusal.
func (e *Eraser) Erase(ctx context.Context, ds *config.Dataset, req Request) (Certificate, error) {
	if err := req.validate(ds); err != nil {
		return Certificate{}, err
	}
	who := actor.From(ctx)
	cert := Certificate{Dataset: ds.Name, SubjectHMAC: e.Key.Hash(req.Subject), KeyID: e.Key.ID, Reason: req.Reason,
		Actor: who.Name, Via: string(who.Via), Status: StatusDryRun, Deletions: []catalog.ErasureDeletion{}}
	if ds.RetentionBasis != "" {
		cert.Refusal = "the dataset's retention_basis obliges keeping its records: " + ds.RetentionBasis
		return e.refuse(ctx, cert, req.DryRun)
	}
	locks, err := e.lock(ctx, ds.Name)
	if err != nil {
		return cert, err
	}
	defer locks()
	run := &run{e: e, ds: ds, req: req, cert: &cert}
	err = run.do(ctx)
	var held *heldError
	if errors.As(err, &held) {
		cert = *run.cert
		cert.Refusal = held.Error()
		return e.refuse(ctx, cert, req.DryRun)
	}
	if err != nil {
		return cert, fmt.Errorf("erase from %s: %w", ds.Name, err)
	}
	if !req.DryRun {
		if err := e.Arch.Failpoints.Hit("after-commit"); err != nil {
			return cert, err
		}
		if _, err := e.DeleteDue(ctx, ds.Name); err != nil {
			e.logger().Warn("erasure committed; deleting the old objects failed (strata purge or the next erase retries)", "err", err)
		}
		if cert, err = e.Show(ctx, cert.ID); err != nil {
			return cert, err
		}
	}
	return cert, nil
}

// lock takes the dataset's transform lock (no ingest or source archive
// commits meanwhile) and its analytics archive lock (no archive run or
// replay), waiting for them, and returns their release.
func (e *Eraser) lock(ctx context.Context, dataset string) (func(), error) {
	t, err := e.Arch.Catalog.Lock(ctx, archive.TransformLockKey(dataset))
	if err != nil {
		return nil, err
	}
	a, err := e.Arch.Catalog.Lock(ctx, "strata:archive:analytics:"+dataset)
	if err != nil {
		t.Unlock(context.WithoutCancel(ctx))
		return nil, err
	}
	return func() {
		a.Unlock(context.WithoutCancel(ctx))
		t.Unlock(context.WithoutCancel(ctx))
	}, nil
}

func (e *Eraser) logger() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}
