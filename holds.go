package strata

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/hold"
)

// Hold is a legal hold, active or released (internal/hold).
type Hold = hold.Hold

// HeldError is the refusal of an action (expiry, supersede, restore,
// erasure) on objects under legal hold; it names the holds.
type HeldError = hold.HeldError

// HoldSync says what Strata did to the storage's own legal-hold flags.
type HoldSync = hold.Sync

// ErrHeld matches every refusal because of a legal hold (a *HeldError).
var ErrHeld = hold.ErrHeld

// HoldRequest asks for a legal hold on a dataset's archive over a period.
type HoldRequest struct {
	Dataset string
	// Type is source, analytics or both ("" is both).
	Type string
	// From and To bound the period, both inclusive (as every range of
	// the API): a date as To means its whole day (see ParseTime).
	From, To time.Time
	// Reason says why (a case, an investigation); required.
	Reason string
}

// HoldFilter selects holds for ListHolds.
type HoldFilter struct {
	Dataset string // "" for every dataset
	All     bool   // include released holds
}

// AddHold places a legal hold, recorded with the actor ctx carries
// (actor.With; the OS user otherwise). From then on no object of the
// dataset's archive type(s) with rows in the period is expired,
// superseded, restored or erased until the hold is released. Where the
// storage has a legal-hold flag it is set on every held object before
// AddHold returns; if that fails the hold is still in force in Strata and
// the error says so (the next ListHolds or Purge sets the flags).
func (s *Service) AddHold(ctx context.Context, req HoldRequest) (Hold, error) {
	h, err := s.addHold(ctx, req)
	return h, s.record(ctx, audit.Entry{Action: audit.ActionHoldAdd, Dataset: req.Dataset, From: req.From, To: req.To,
		Objects: h.Objects, Detail: holdDetail(h.ID, req.Type, req.Reason), Err: err})
}

// holdDetail is what a hold's audit records say of it.
func holdDetail(id int64, typ, reason string) string {
	if typ == "" {
		typ = "both"
	}
	return fmt.Sprintf("hold %d (%s): %s", id, typ, reason)
}

func (s *Service) addHold(ctx context.Context, req HoldRequest) (Hold, error) {
	ds, err := s.Dataset(req.Dataset)
	if err != nil {
		return Hold{}, err
	}
	typ, err := hold.ParseType(req.Type)
	if err != nil {
		return Hold{}, asInvalid(err)
	}
	if typ != hold.Both {
		if _, _, err := s.layer(ds, string(typ)); err != nil {
			return Hold{}, err
		}
	}
	if req.From.IsZero() || req.To.IsZero() {
		return Hold{}, invalid("a hold needs a period: from and to")
	}
	h, err := hold.Add(ctx, s.pool, hold.Request{Dataset: ds.Name, Type: typ, From: req.From,
		To: req.To.Add(time.Microsecond), Reason: req.Reason})
	if err != nil {
		return Hold{}, holdErr(err)
	}
	return s.afterHoldChange(ctx, h)
}

// ReleaseHold releases hold id for reason, recorded with the actor ctx
// carries. Objects no other hold covers may expire again (at the next
// purge) and the storage's legal-hold flag is cleared on them. Releasing
// a released hold fails with ErrConflict, an unknown id with ErrNotFound.
func (s *Service) ReleaseHold(ctx context.Context, id int64, reason string) (Hold, error) {
	h, err := s.releaseHold(ctx, id, reason)
	return h, s.record(ctx, audit.Entry{Action: audit.ActionHoldRelease, Dataset: h.Dataset, From: h.From, To: h.To,
		Objects: h.Objects, Detail: holdDetail(id, string(h.Type), reason), Err: err})
}

func (s *Service) releaseHold(ctx context.Context, id int64, reason string) (Hold, error) {
	h, err := hold.Release(ctx, s.pool, id, reason)
	if err != nil {
		return h, holdErr(err)
	}
	return s.afterHoldChange(ctx, h)
}

// afterHoldChange brings the storage's legal-hold flags in line and reads
// the hold back with its counts.
func (s *Service) afterHoldChange(ctx context.Context, h Hold) (Hold, error) {
	if _, err := s.ReconcileHolds(ctx); err != nil {
		return h, fmt.Errorf("hold %d is recorded and in force in Strata, but the storage's legal-hold flags are not all in line yet (the next `strata hold list` or purge retries): %w", h.ID, err)
	}
	got, err := hold.Get(ctx, s.pool, h.ID)
	if err != nil {
		return h, err
	}
	return got, nil
}

// ListHolds returns the holds f selects, oldest first, after bringing the
// storage's legal-hold flags in line with them (repairing what a crash
// between a hold's commit and the storage calls left).
func (s *Service) ListHolds(ctx context.Context, f HoldFilter) ([]Hold, error) {
	if f.Dataset != "" {
		if _, err := s.Dataset(f.Dataset); err != nil {
			return nil, err
		}
	}
	if _, err := s.ReconcileHolds(ctx); err != nil {
		s.log.Error("storage legal holds not in line with the holds; the next list or purge retries", "err", err)
	}
	return hold.List(ctx, s.pool, hold.Filter{Dataset: f.Dataset, All: f.All})
}

// ReconcileHolds sets the storage's legal-hold flag on every held object
// that lacks it and clears it where no hold covers the object any more.
// It does nothing (HoldSync.Unsupported) on storage without the flag.
func (s *Service) ReconcileHolds(ctx context.Context) (HoldSync, error) {
	return s.keeper().Reconcile(ctx)
}

func (s *Service) keeper() *hold.Keeper {
	return &hold.Keeper{Pool: s.pool, Store: s.store, Log: s.log}
}

// holdErr maps the hold package's errors to the API's kinds.
func holdErr(err error) error {
	switch {
	case errors.Is(err, hold.ErrInvalid):
		return asInvalid(err)
	case errors.Is(err, hold.ErrNotFound):
		return &kindError{ErrNotFound, err}
	case errors.Is(err, hold.ErrReleased):
		return &kindError{ErrConflict, err}
	}
	return err
}
