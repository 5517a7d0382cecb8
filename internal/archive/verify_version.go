package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/storage"
)

// ObjectRetention is an object's write-once retention as the storage states
// it, beside what Strata asked for and the object's expiry.
type ObjectRetention struct {
	Key string
	// Stated is the retention Stat reports for the object's current version.
	Stated storage.Retention
	// Asked is the mode the upload asked for ("" none).
	Asked string
	// ExpiresAt is the object's expiry in the catalog (nil: never).
	ExpiresAt *time.Time
	// Version is the current version's id ("" on a store without versions).
	Version string
}

// retentionSlack absorbs a store that keeps retain-until dates to the
// second.
const retentionSlack = time.Second

// checkRetention flags an object the storage protects for less than its
// life: whose upload asked for a retention, or whose dataset has
// archive.immutability on, and whose stated retention ends before its
// expiry (or which has none). Objects already past their expiry need none.
func checkRetention(o catalog.Object, stated storage.Retention, immutable bool, now time.Time) *Problem {
	if o.RetentionMode == "" && !immutable {
		return nil
	}
	need := o.ExpiresAt
	if need == nil && o.RetainUntil != nil {
		need = o.RetainUntil // never expires: at least what was asked
	}
	if need == nil || !need.After(now) {
		return nil
	}
	switch {
	case stated.Mode == storage.RetentionOff && !stated.LegalHold:
		hint := ""
		if o.RetentionMode == "" {
			hint = "; archived before archive.immutability was on? 'strata verify --repair' puts it under retention"
		}
		return &Problem{ProblemRetention, o.Key, fmt.Sprintf("the storage states no retention; it must be kept until %s (asked: %s)%s",
			need.UTC().Format(time.RFC3339), askedOf(o), hint)}
	case stated.Mode != storage.RetentionOff && stated.Until.Add(retentionSlack).Before(*need):
		return &Problem{ProblemRetention, o.Key, fmt.Sprintf("the storage states %s retention until %s, shorter than its expiry %s (asked: %s)",
			stated.Mode, stated.Until.UTC().Format(time.RFC3339), need.UTC().Format(time.RFC3339), askedOf(o))}
	}
	return nil
}

// protect repairs a retention problem: it puts the version Strata wrote
// under mode until the object's expiry and records that in the catalog,
// returning nil, or p with why it could not. An object whose version is
// not recorded is protected only when its current bytes are the ones
// Strata wrote (never an impostor's).
func (a *Archiver) protect(ctx context.Context, key storage.Key, o catalog.Object, info storage.ObjectInfo,
	mode storage.RetentionMode, p *Problem, rep *VerifyReport) *Problem {
	need := o.ExpiresAt
	if need == nil || (o.RetainUntil != nil && o.RetainUntil.After(*need)) {
		need = o.RetainUntil
	}
	version := o.VersionID
	if version == "" && (info.Size != o.Bytes || (info.SHA256 != "" && info.SHA256 != o.SHA256)) {
		p.Detail += "; --repair left it alone: its current bytes are not the ones Strata wrote"
		return p
	}
	r := storage.Retention{Mode: mode, Until: need.UTC()}
	if err := a.Store.SetRetention(ctx, key, version, r); err != nil {
		p.Detail += "; --repair could not set it: " + err.Error()
		return p
	}
	if err := a.Catalog.RecordRetention(ctx, o.ID, string(mode), r.Until); err != nil {
		p.Detail += "; --repair set it in the storage but could not record it (rerun): " + err.Error()
		return p
	}
	rep.Protected = append(rep.Protected, ObjectRetention{Key: o.Key, Stated: r, ExpiresAt: o.ExpiresAt, Asked: string(mode), Version: version})
	return nil
}

func askedOf(o catalog.Object) string {
	if o.RetentionMode == "" || o.RetainUntil == nil {
		return "none"
	}
	return o.RetentionMode + " until " + o.RetainUntil.UTC().Format(time.RFC3339)
}

// checkCurrent is called when the object's current version is not the one
// Strata wrote: another writer put an object on top of it (reads still take
// the recorded version). Bytes that differ from the recorded SHA-256 name
// the object; the same bytes (an identical copy) are harmless.
func (a *Archiver) checkCurrent(ctx context.Context, key storage.Key, o catalog.Object, info storage.ObjectInfo) *Problem {
	if info.Size != o.Bytes || (info.SHA256 != "" && info.SHA256 != o.SHA256) {
		return overwritten(o, info, info.SHA256, info.Size) // as its metadata says
	}
	sum, n, err := a.hashVersion(ctx, key, "")
	if err != nil {
		return &Problem{ProblemUnreadable, o.Key, "cannot read the current version: " + err.Error()}
	}
	if sum != o.SHA256 || n != o.Bytes {
		return overwritten(o, info, sum, n)
	}
	return nil
}

func overwritten(o catalog.Object, info storage.ObjectInfo, sum string, n int64) *Problem {
	if sum == "" {
		sum = "unknown"
	}
	return &Problem{ProblemOverwritten, o.Key, fmt.Sprintf(
		"the current version %s (%d bytes, sha256 %s) is not the version %s Strata wrote (%d bytes, sha256 %s): another writer put it there; reads use version %s",
		info.VersionID, n, sum, o.VersionID, o.Bytes, o.SHA256, o.VersionID)}
}

// dbNow is the database clock.
func (a *Archiver) dbNow(ctx context.Context) (time.Time, error) {
	var now time.Time
	err := a.Pool.QueryRow(ctx, `SELECT now()`).Scan(&now)
	return now, err
}
