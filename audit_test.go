package strata_test

import (
	"context"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// Go API calls are recorded with the label the program set: a hold added
// and released, a failed restore; and the chain verifies.
func TestGoAPIActionsAreRecordedWithTheCallersLabel(t *testing.T) {
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{{Name: "orders", Days: 2}}})
	svc := testsvc.Open(t, e, strata.Options{})
	ctx := actor.With(context.Background(), actor.Actor{Name: "case-tool", Via: actor.ViaAPI})
	from, to := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 23, 59, 59, 0, time.UTC)
	h, err := svc.AddHold(ctx, strata.HoldRequest{Dataset: "orders", From: from, To: to, Reason: "case 7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReleaseHold(ctx, h.ID, "case closed"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: to, To: from}); err == nil {
		t.Fatal("a reversed restore succeeded")
	}
	recs, err := svc.AuditList(ctx, strata.AuditFilter{Who: "case-tool", From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, result string }{{"hold.add", "ok"}, {"hold.release", "ok"}, {"restore", "error"}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, r := range recs {
		if r.Action != want[i].action || r.Result != want[i].result || r.Via != "api" || r.Dataset != "orders" {
			t.Errorf("record %d: %+v, want %+v", i, r, want[i])
		}
	}
	if recs[1].Detail == "" || recs[2].Error == "" {
		t.Errorf("release detail %q, restore error %q", recs[1].Detail, recs[2].Error)
	}
	rep, err := svc.AuditVerify(ctx)
	if err != nil || !rep.OK() || rep.Records < 3 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
