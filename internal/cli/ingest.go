package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/units"
)

func newIngestCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset, key string
	cmd := &cobra.Command{
		Use:   "ingest --dataset N [--idempotency-key K] [FILE|-]",
		Short: "Store raw JSON records in Layer 3, archive them, transform them into Layer 2",
		Long: `Ingest reads raw records, one JSON object per line (or one JSON array of
objects), from FILE or standard input, and runs the whole intake for them, per
batch, in one transaction: it stores each record in the dataset's Layer 3
table exactly as received, archives the batch to

  {prefix}/source/{dataset}/{YYYY}/{MM}/{DD}/source_batch_{id}.parquet

with the SHA-256 of every record, runs the dataset's transform into Layer 2
(the latest record per key wins) and marks the records processed. When it
exits 0, all of that happened for every record.

The whole input is checked before anything is stored: a line that is not a
JSON object, is not valid JSON or is over source.max_record_bytes makes the
command exit 2, naming the line, and stores nothing. Large inputs are cut
into batches of source.batch_max_rows records or source.batch_max_bytes
bytes; if a batch fails, the batches before it stay stored (each is whole).

--idempotency-key makes a retry safe: run the same command again with the
same key and the same records after a failure or a kill, and it stores only
what was not stored yet (a large input resumes after its last committed
batch), or, if everything was, prints the first run's answer and stores
nothing. The same key with other records exits 2. Keys are kept for
source.idempotency_window (24h by default).`,
		Example: `  strata ingest --dataset customers records.jsonl
  producer | strata ingest --dataset scor_metrics -
  strata ingest --dataset orders --idempotency-key orders-2024-11-01 orders.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if dataset == "" {
				return usageErr("--dataset is required")
			}
			in := "-"
			if len(args) == 1 {
				in = args[0]
			}
			return runIngest(c.Context(), env, g, dataset, in, strata.IngestOptions{IdempotencyKey: key})
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "dataset whose Layer 3 table receives the records (required)")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "store these records at most once: a re-run with the same key and records completes or repeats the first (at most 255 printable ASCII characters)")
	return cmd
}

func runIngest(ctx context.Context, env Env, g *globalFlags, dataset, in string, opts strata.IngestOptions) error {
	var r io.Reader = env.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return usageErr("%v", err)
		}
		defer f.Close()
		r = f
	}
	a, err := openWriter(ctx, env, g)
	if err != nil {
		return err
	}
	defer a.close()
	if _, err := sourceDatasets(a.cfg, dataset); err != nil {
		return err
	}
	start := time.Now()
	rep, err := a.svc.IngestWith(ctx, dataset, r, opts)
	if errors.Is(err, strata.ErrConflict) {
		return usageErr("%s: %v", in, err)
	}
	if (rep.Received == 0 || rep.Records == 0 && errors.Is(err, strata.ErrRejected)) && err != nil {
		if errors.Is(err, strata.ErrInvalid) {
			return usageErr("%s: %v", in, err)
		}
		return err
	}
	el := time.Since(start)
	if rep.Replayed {
		fmt.Fprintf(env.Stdout, "%s: idempotency key %q: these records were ingested before; nothing stored this time. The first run's answer:\n", dataset, opts.IdempotencyKey)
	}
	fmt.Fprintf(env.Stdout, "%s: ingested %d of %d records in %d batch(es), %s, %d source object(s), %s (%.0f records/s)\n",
		dataset, rep.Records, rep.Received, rep.Batches, units.Bytes(rep.Bytes), len(rep.Objects), el.Round(time.Millisecond),
		float64(rep.Records)/el.Seconds())
	for _, o := range rep.Objects {
		fmt.Fprintf(env.Stdout, "  %s  %d records  %s  %s\n", o.Day.Format(time.DateOnly), o.Rows, units.Bytes(o.Bytes), o.Key)
	}
	printQuarantined(env.Stdout, dataset, rep.QuarantinedRecords)
	return err
}

// printQuarantined says which stored records the transform could not map.
func printQuarantined(w io.Writer, dataset string, recs []strata.RecordError) {
	if len(recs) == 0 {
		return
	}
	fmt.Fprintf(w, "%s: %d record(s) quarantined: stored and archived, not transformed; after fixing the transform, 'strata replay --apply' over their ingestion period processes them\n",
		dataset, len(recs))
	for i, r := range recs {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more (strata lineage lists them)\n", len(recs)-i)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", r.Where(), r.Error)
	}
}
