package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/units"
)

func newCatalogCmd(env Env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Show what is archived",
	}
	var dataset, typ string
	var objects bool
	list := &cobra.Command{
		Use:   "list [--dataset N] [--type analytics|source] [--objects]",
		Short: "List archived days (or objects): rows, bytes, expiry and write-once retention",
		Long: `List shows the committed, current archive objects, one line per dataset,
type and day: objects, rows, bytes, when the day's first object expires
(archive.retention counted from the end of the day of its data) and the
weakest write-once retention its objects asked the storage for (MODE UNTIL;
"none" when an object has none, as with archive.immutability off).

--objects prints one line per object instead, with its key, rows, bytes,
SHA-256 (of the object's bytes, checked by every read and by verify
--deep), expiry, retention and the storage version it was written as
(reads ask for exactly that version).`,
		Example: `  strata catalog list
  strata catalog list --dataset orders --type analytics --objects`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if typ != "" && typ != catalog.TypeAnalytics && typ != catalog.TypeSource {
				return usageErr("--type %q: use analytics or source", typ)
			}
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			objs, err := a.cat.List(c.Context(), catalog.Filter{Dataset: dataset, Type: typ})
			if err != nil {
				return err
			}
			if objects {
				printObjects(env, objs)
			} else {
				printCatalog(env, objs)
			}
			return nil
		},
	}
	list.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	list.Flags().StringVarP(&typ, "type", "t", "", "only this archive type: analytics or source")
	list.Flags().BoolVar(&objects, "objects", false, "one line per object: key, expiry, retention, version")
	cmd.AddCommand(list)
	return cmd
}

type dayRow struct {
	dataset, typ string
	day          time.Time
	objects      int
	rows, bytes  int64
	expires      *time.Time
	// weakest is the object of the day with the weakest retention.
	weakest catalog.Object
}

func printCatalog(env Env, objs []catalog.Object) {
	var days []dayRow
	for _, o := range objs {
		n := len(days)
		if n > 0 && days[n-1].dataset == o.Dataset && days[n-1].typ == o.Type && days[n-1].day.Equal(o.Day) {
			d := &days[n-1]
			d.objects++
			d.rows += o.Rows
			d.bytes += o.Bytes
			d.expires = earliest(d.expires, o.ExpiresAt)
			if weaker(o, d.weakest) {
				d.weakest = o
			}
			continue
		}
		days = append(days, dayRow{o.Dataset, o.Type, o.Day, 1, o.Rows, o.Bytes, o.ExpiresAt, o})
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tTYPE\tDAY\tOBJECTS\tROWS\tBYTES\tEXPIRES\tRETENTION")
	var rows, bytes int64
	for _, d := range days {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", d.dataset, d.typ, d.day.Format(time.DateOnly), d.objects, d.rows,
			units.Bytes(d.bytes), timeOrNever(d.expires), retentionOf(d.weakest))
		rows += d.rows
		bytes += d.bytes
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "%d day(s), %d object(s), %d rows, %s\n", len(days), len(objs), rows, units.Bytes(bytes))
}

func printObjects(env Env, objs []catalog.Object) {
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tROWS\tBYTES\tSHA256\tEXPIRES\tRETENTION\tVERSION")
	for _, o := range objs {
		version := o.VersionID
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", o.Key, o.Rows, units.Bytes(o.Bytes), o.SHA256, timeOrNever(o.ExpiresAt), retentionOf(o), version)
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "%d object(s)\n", len(objs))
}

// retentionOf is an object's write-once retention as MODE UNTIL, or none.
func retentionOf(o catalog.Object) string {
	if o.RetentionMode == "" || o.RetainUntil == nil {
		return "none"
	}
	return o.RetentionMode + " " + o.RetainUntil.UTC().Format(time.RFC3339)
}

// weaker reports whether o's retention protects less than w's: none, then
// governance before compliance, then the earlier retain-until.
func weaker(o, w catalog.Object) bool {
	rank := func(x catalog.Object) int {
		switch {
		case x.RetainUntil == nil:
			return 0
		case x.RetentionMode == "governance":
			return 1
		}
		return 2
	}
	if ro, rw := rank(o), rank(w); ro != rw || ro == 0 {
		return ro < rw
	}
	return o.RetainUntil.Before(*w.RetainUntil)
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
