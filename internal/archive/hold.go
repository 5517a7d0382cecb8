package archive

import (
	"context"

	"github.com/stratahq/strata/internal/hold"
)

// holdNew puts the storage's legal hold on the just committed objects of
// staged that a hold covers. A failure does not undo the commit (the rows
// are archived): it is logged, and the next reconciliation (hold list,
// purge) sets the flag.
func (a *Archiver) holdNew(ctx context.Context, staged []*staged) {
	if a.Holds == nil || len(staged) == 0 {
		return
	}
	ids := make([]int64, len(staged))
	for i, s := range staged {
		ids[i] = s.obj.ID
	}
	a.HoldNew(ctx, ids)
}

// HoldNew puts the storage's legal hold on those of the committed objects
// ids that a hold covers (see holdNew); callers that commit objects
// themselves (replay's superseding objects) call it after their commit.
func (a *Archiver) HoldNew(ctx context.Context, ids []int64) {
	if a.Holds == nil {
		return
	}
	s, err := a.Holds.Apply(context.WithoutCancel(ctx), ids)
	switch {
	case err != nil:
		a.logger().Error("setting the storage legal hold on objects committed into a held period failed; the next `strata hold list` or purge sets it",
			"objects", ids, "err", err)
	case s.Set > 0:
		a.logger().Info("objects committed into a held period are under the storage legal hold", "objects", s.Set)
	}
}

// HeldObject is an object a purge kept because a legal hold covers it.
type HeldObject struct {
	Key   string     `json:"key"`
	Holds []hold.Ref `json:"holds"`
}

// heldAmong returns the holds covering each of objs that one covers.
func (a *Archiver) heldAmong(ctx context.Context, objs []expiring) (map[int64][]hold.Ref, error) {
	ids := make([]int64, len(objs))
	for i, o := range objs {
		ids[i] = o.id
	}
	return hold.Held(ctx, a.Pool, ids)
}
