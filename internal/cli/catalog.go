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
	list := &cobra.Command{
		Use:   "list [--dataset N] [--type analytics|source]",
		Short: "List archived days: dataset, type, day, objects, rows, bytes",
		Args:  cobra.NoArgs,
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
			printCatalog(env, objs)
			return nil
		},
	}
	list.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	list.Flags().StringVarP(&typ, "type", "t", "", "only this archive type: analytics or source")
	cmd.AddCommand(list)
	return cmd
}

type dayRow struct {
	dataset, typ string
	day          time.Time
	objects      int
	rows, bytes  int64
}

func printCatalog(env Env, objs []catalog.Object) {
	var days []dayRow
	for _, o := range objs {
		n := len(days)
		if n > 0 && days[n-1].dataset == o.Dataset && days[n-1].typ == o.Type && days[n-1].day.Equal(o.Day) {
			days[n-1].objects++
			days[n-1].rows += o.Rows
			days[n-1].bytes += o.Bytes
			continue
		}
		days = append(days, dayRow{o.Dataset, o.Type, o.Day, 1, o.Rows, o.Bytes})
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tTYPE\tDAY\tOBJECTS\tROWS\tBYTES")
	var rows, bytes int64
	for _, d := range days {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", d.dataset, d.typ, d.day.Format(time.DateOnly), d.objects, d.rows, units.Bytes(d.bytes))
		rows += d.rows
		bytes += d.bytes
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "%d day(s), %d object(s), %d rows, %s\n", len(days), len(objs), rows, units.Bytes(bytes))
}
