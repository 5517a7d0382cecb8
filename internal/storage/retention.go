package storage

import (
	"fmt"
	"time"
)

// RetentionMode is how strictly the store enforces an object's retention.
// The names follow S3 Object Lock; Azure's version-level immutability maps
// governance to an unlocked policy and compliance to a locked one.
type RetentionMode string

// Retention modes, as written in archive.immutability.
const (
	// RetentionOff: no retention is asked of the store.
	RetentionOff RetentionMode = ""
	// RetentionGovernance: the store refuses deletes and overwrites before
	// Until, except to principals holding a bypass permission.
	RetentionGovernance RetentionMode = "governance"
	// RetentionCompliance: nobody, the account owner included, can delete
	// the object or shorten its retention before Until.
	RetentionCompliance RetentionMode = "compliance"
)

// ParseRetentionMode maps the config words off, governance and compliance to
// a RetentionMode.
func ParseRetentionMode(s string) (RetentionMode, error) {
	switch s {
	case "", "off":
		return RetentionOff, nil
	case string(RetentionGovernance):
		return RetentionGovernance, nil
	case string(RetentionCompliance):
		return RetentionCompliance, nil
	}
	return RetentionOff, fmt.Errorf("immutability %q: use off, governance or compliance", s)
}

// String returns the config word for m ("off" for RetentionOff).
func (m RetentionMode) String() string {
	if m == RetentionOff {
		return "off"
	}
	return string(m)
}

// Retention is an object's write-once protection: the store refuses to delete
// or overwrite it before Until (Mode not RetentionOff), and while LegalHold is
// set, whatever Until says.
type Retention struct {
	Mode      RetentionMode
	Until     time.Time
	LegalHold bool
}

// Active reports whether the retention forbids deleting the object at now.
func (r Retention) Active(now time.Time) bool {
	return r.LegalHold || (r.Mode != RetentionOff && now.Before(r.Until))
}

// Needs is the mode a store must support (CheckRetention) to keep r: its
// Mode, governance for a legal hold alone, RetentionOff when r asks for
// nothing.
func (r Retention) Needs() RetentionMode {
	if r.Mode == RetentionOff && r.LegalHold {
		return RetentionGovernance
	}
	return r.Mode
}

// validate checks a Put's retention: a known mode and, when on, an Until.
func (r Retention) validate() error {
	switch r.Mode {
	case RetentionOff:
		return nil
	case RetentionGovernance, RetentionCompliance:
	default:
		return fmt.Errorf("put options: retention mode %q is unknown (use governance or compliance)", string(r.Mode))
	}
	if r.Until.IsZero() {
		return fmt.Errorf("put options: %s retention has no Until (set the retain-until time)", r.Mode)
	}
	return nil
}

// Unsupported returns an error wrapping ErrUnsupported that says what the
// store named by backend lacks and how to fix it.
func Unsupported(backend, what, fix string) error {
	if fix == "" {
		return fmt.Errorf("%s: %s: %w", backend, what, ErrUnsupported)
	}
	return fmt.Errorf("%s: %s: %w (%s)", backend, what, ErrUnsupported, fix)
}
