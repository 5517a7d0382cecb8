package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata"
)

// demoCompliance shows the compliance features on the demo's data: a legal
// hold over an archived day of orders, the erasure of one customer from
// every place Strata keeps them, and the audit trail's verification.
func demoCompliance(ctx context.Context, a *app, day time.Time) error {
	out := a.env.Stdout
	fmt.Fprintf(out, "\n==> compliance: a legal hold, an erasure and the audit trail (strata hold / erase / audit)\n")
	h, err := a.svc.AddHold(ctx, strata.HoldRequest{Dataset: "orders", From: day, To: day.Add(24*time.Hour - time.Microsecond),
		Reason: "demo: case 24-117"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  hold add         hold %d on orders %s: %d archived object(s) it covers are never expired, replaced or erased until it is released\n",
		h.ID, day.Format(time.DateOnly), h.Objects)
	if _, err := a.svc.ReleaseHold(ctx, h.ID, "demo: case settled"); err != nil {
		return err
	}
	fmt.Fprintf(out, "  hold release     hold %d released, who and why recorded\n", h.ID)

	var subject string
	if err := a.pool.QueryRow(ctx, `SELECT raw_data->>'customer_id' FROM source_customers ORDER BY raw_id LIMIT 1`).Scan(&subject); err != nil {
		return fmt.Errorf("demo: pick a customer to erase: %w", err)
	}
	c, err := a.svc.Erase(ctx, strata.EraseRequest{Dataset: "customers", Subject: subject, Reason: "demo: GDPR request 2024-118"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  erase            customer %s: %d Layer 3 record(s) and %d Layer 2 row(s) deleted, %d source and %d analytics object(s) rewritten without them (certificate %d: strata erase show %d)\n",
		subject, c.Layer3.Rows, c.Layer2.Rows, len(c.SourceArchive.Replaced), len(c.AnalyticsArchive.Replaced), c.ID, c.ID)

	if err := a.svc.AuditAnchor(ctx); err != nil {
		return err
	}
	rep, err := a.svc.AuditVerify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  audit verify     %d records hash-chained, %d anchor(s) in the archive, intact=%t\n", rep.Records, rep.Anchors, rep.OK())
	return nil
}
