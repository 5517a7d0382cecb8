// Package hold is Strata's legal holds: a hold keeps the archive objects of
// one dataset's period (source, analytics or both) from being expired,
// deleted, superseded or restored by anyone through Strata, whatever their
// retention says, until it is released. Holds and releases are recorded in
// strata.holds with who (internal/actor), the database role, when and why.
//
// Every refusal is a *HeldError naming the hold(s) that stopped it. The
// checks callers make (Check, Covering) are backed by a trigger on
// strata.objects (catalog migration 7) that refuses the same updates, so a
// code path that forgot to ask is stopped too; FromDB turns its error into
// a *HeldError.
//
// Where the storage has a legal-hold flag (storage.Caps().LegalHold), a
// Keeper sets it on every held object and clears it when no hold covers the
// object any more; strata.legal_holds records which objects Strata set it
// on, so a crash between the catalog and the storage is repaired by the
// next Reconcile.
package hold

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Type is the archive a hold covers.
type Type string

// The archive types a hold may cover.
const (
	Source    Type = "source"
	Analytics Type = "analytics"
	Both      Type = "both"
)

// ParseType reads source, analytics or both ("" is both).
func ParseType(s string) (Type, error) {
	switch Type(s) {
	case "", Both:
		return Both, nil
	case Source, Analytics:
		return Type(s), nil
	}
	return "", fmt.Errorf("%w: archive type %q: use source, analytics or both (the default)", ErrInvalid, s)
}

// ErrInvalid matches a request the package refuses as malformed: an empty
// reason, a reversed period, an unknown type.
var ErrInvalid = errors.New("invalid hold request")

// ErrNotFound matches a hold id that does not exist.
var ErrNotFound = errors.New("no such hold")

// ErrReleased matches a release of a hold already released.
var ErrReleased = errors.New("hold already released")

// ErrHeld matches every *HeldError.
var ErrHeld = errors.New("under legal hold")

// Hold is one legal hold, active or released.
type Hold struct {
	ID      int64  `json:"id"`
	Dataset string `json:"dataset"`
	Type    Type   `json:"type"`
	// From and To bound the period held: [From, To). An object is held
	// when its rows' times (analytics: the time column; source: the
	// ingestion time) overlap it, or, for an object without times, its
	// day does.
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason"`
	// Created is who placed the hold, when, and as which database role.
	Created Event `json:"created"`
	// Released is nil while the hold is active.
	Released *Event `json:"released,omitempty"`
	// Objects is how many objects the hold covers (not yet expired) and
	// StorageHeld how many of those carry the storage's legal-hold flag
	// set by Strata; both are filled by List and Get.
	Objects     int64 `json:"objects"`
	StorageHeld int64 `json:"storage_held"`
}

// Active reports whether the hold is not released.
func (h Hold) Active() bool { return h.Released == nil }

// Event is who did something to a hold, when, and why (a release's reason).
type Event struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Via    string    `json:"via"`
	Addr   string    `json:"addr,omitempty"`
	DBRole string    `json:"db_role"`
	Reason string    `json:"reason,omitempty"`
}

// Ref names a hold in a refusal.
type Ref struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
}

// HeldError is the refusal of an action on held objects: it names the
// holds that stopped it and the objects they cover.
type HeldError struct {
	// Action is what was refused ("expire", "supersede", "restore",
	// "erase", ...).
	Action string
	// Holds are the active holds in the way, ordered by id.
	Holds []Ref
	// Objects are keys of the held objects concerned (may be empty when
	// the refusal is for a period, not objects).
	Objects []string
}

// Error names the holds and says how to lift them.
func (e *HeldError) Error() string {
	what := "the period"
	switch len(e.Objects) {
	case 0:
	case 1:
		what = "object " + e.Objects[0]
	default:
		what = fmt.Sprintf("%d objects (%s, ...)", len(e.Objects), e.Objects[0])
	}
	word := "hold"
	if len(e.Holds) > 1 {
		word = "holds"
	}
	return fmt.Sprintf("%s refused: %s is under legal %s %s; it stays until released (strata hold release ID --reason ...)",
		e.Action, what, word, FormatRefs(e.Holds))
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// IDs returns the ids of the holds in the way.
func (e *HeldError) IDs() []int64 {
	ids := make([]int64, len(e.Holds))
	for i, h := range e.Holds {
		ids[i] = h.ID
	}
	return ids
}

// FormatRefs writes holds as `3 ("case 24-117"), 5 ("audit")`.
func FormatRefs(refs []Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = fmt.Sprintf("%d (%q)", r.ID, r.Reason)
	}
	return strings.Join(s, ", ")
}
