package strata

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/erasure"
	"github.com/stratahq/strata/internal/hold"
)

// EraseRequest asks for one data subject's records to be erased from a
// dataset (GDPR Art. 17).
type EraseRequest struct {
	Dataset string
	// Subject is the value that identifies the person, as the dataset's
	// subject: configuration finds it (e.g. a customer id).
	Subject string
	// Reason is recorded with the erasure (e.g. the request's reference).
	Reason string
	// DryRun finds everything and reports what would change, changing
	// nothing and recording nothing.
	DryRun bool
}

// EraseCertificate is the record of an erasure: see erasure.Certificate.
type EraseCertificate = erasure.Certificate

// EraseListing lists erasures and the deletions still pending.
type EraseListing = erasure.Listing

// ErasureRefused is the error of a refused erasure (a legal hold, or the
// dataset's retention_basis); its Certificate says why. It matches
// ErrInvalid.
type ErasureRefused = erasure.RefusedError

// Erase removes the subject's rows from Layer 3 and Layer 2 and replaces
// every archived object holding them by a copy without them, the old
// objects leaving every read at once and deleted from storage as soon as
// their retention allows, all in one transaction; it records the erasure in
// the ledger (the subject as a keyed hash only) and returns its
// certificate. Refusals are *ErasureRefused. Errors of the request match
// ErrInvalid or ErrNotFound.
func (s *Service) Erase(ctx context.Context, req EraseRequest) (EraseCertificate, error) {
	cert, err := s.erase(ctx, req)
	if !req.DryRun {
		s.publishAfter(ctx, req.Dataset)
	}
	e := audit.Entry{Action: audit.ActionErase, Dataset: req.Dataset, Err: err,
		Rows:    cert.Layer3.Rows + cert.Layer2.Rows,
		Objects: int64(cert.SourceArchive.Objects + cert.AnalyticsArchive.Objects),
		// The subject only as the ledger's keyed hash, never in clear.
		Detail: fmt.Sprintf("erasure %d, subject hmac %.16s, status %s: %s", cert.ID, cert.SubjectHMAC, cert.Status, req.Reason)}
	if req.DryRun {
		e.Detail = "dry run: " + e.Detail
	}
	return cert, s.record(ctx, e)
}

func (s *Service) erase(ctx context.Context, req EraseRequest) (EraseCertificate, error) {
	ds, err := s.Dataset(req.Dataset)
	if err != nil {
		return EraseCertificate{}, err
	}
	e, err := s.eraser()
	if err != nil {
		return EraseCertificate{}, err
	}
	cert, err := e.Erase(ctx, ds, erasure.Request{Subject: req.Subject, Reason: req.Reason, DryRun: req.DryRun})
	return cert, erasureErr(err)
}

// EraseShow returns the certificate of erasure id, with its deletions as
// they stand now.
func (s *Service) EraseShow(ctx context.Context, id int64) (EraseCertificate, error) {
	e, err := s.eraser()
	if err != nil {
		return EraseCertificate{}, err
	}
	cert, err := e.Show(ctx, id)
	return cert, erasureErr(err)
}

// EraseList lists the erasures (and refusals) of dataset ("" for all) and
// the deletions from storage still pending.
func (s *Service) EraseList(ctx context.Context, dataset string) (EraseListing, error) {
	if dataset != "" {
		if _, err := s.Dataset(dataset); err != nil {
			return EraseListing{}, err
		}
	}
	e, err := s.eraser()
	if err != nil {
		return EraseListing{}, err
	}
	return e.List(ctx, dataset)
}

// eraser wires an erasure.Eraser; the ledger key is read (or created) on
// first use of each call.
func (s *Service) eraser() (*erasure.Eraser, error) {
	key, err := erasure.LoadKey(s.cfg.ErasureKeyPath())
	if err != nil {
		return nil, erasureErr(err)
	}
	return &erasure.Eraser{Pool: s.pool, Arch: s.Archiver(), Key: key, Holds: s.holdCheck(), Log: s.log}, nil
}

// holdCheck is the legal-hold check erasure asks before it deletes
// anything: the *HeldError naming the holds covering a dataset's records
// of a type in a period, if any.
func (s *Service) holdCheck() erasure.HoldCheck {
	return func(ctx context.Context, dataset, typ string, from, to time.Time) (error, error) {
		hs, err := hold.Covering(ctx, s.pool, dataset, hold.Type(typ), from, to)
		if err != nil {
			return nil, err
		}
		return hold.Refusal("erase", hs), nil
	}
}

func erasureErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, erasure.ErrNotFound):
		return &kindError{ErrNotFound, err}
	case errors.Is(err, erasure.ErrInvalid):
		return asInvalid(err)
	}
	return err
}

// deleteErased deletes from storage the old objects of the dataset's
// erasures whose retention has ended (Purge runs it).
func (s *Service) deleteErased(ctx context.Context, dataset string) (int, error) {
	e := &erasure.Eraser{Pool: s.pool, Arch: s.Archiver(), Holds: s.holdCheck(), Log: s.log}
	return e.DeleteDue(ctx, dataset)
}
