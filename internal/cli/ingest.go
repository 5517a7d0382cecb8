package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/ingest"
)

func newIngestCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset string
	cmd := &cobra.Command{
		Use:   "ingest --dataset N [FILE|-]",
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
bytes; if a batch fails, the batches before it stay stored (each is whole).`,
		Example: `  strata ingest --dataset customers records.jsonl
  producer | strata ingest --dataset scor_metrics -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if dataset == "" {
				return usageErr("--dataset is required")
			}
			in := "-"
			if len(args) == 1 {
				in = args[0]
			}
			return runIngest(c.Context(), env, g, dataset, in)
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "dataset whose Layer 3 table receives the records (required)")
	return cmd
}

func runIngest(ctx context.Context, env Env, g *globalFlags, dataset, in string) error {
	cfg, err := loadConfig(env, g)
	if err != nil {
		return err
	}
	dss, err := sourceDatasets(cfg, dataset)
	if err != nil {
		return err
	}
	ds := dss[0]
	spool, n, err := spoolInput(env, in, ds.Source.MaxRecordBytes)
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	spec, err := sourceSpec(cfg, ds)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, env, g)
	if err != nil {
		return err
	}
	defer a.close()
	arch, err := a.archiver()
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(spool, 1<<20)
	next := func() ([]byte, error) {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			return line[:len(line)-1], nil
		}
		return nil, err
	}
	start := time.Now()
	rep, err := arch.Ingest(ctx, spec, next)
	el := time.Since(start)
	fmt.Fprintf(env.Stdout, "%s: ingested %d of %d records in %d batch(es), %s, %d source object(s), %s (%.0f records/s)\n",
		ds.Name, rep.Records, n, rep.Batches, humanBytes(rep.Bytes), len(rep.Objects), el.Round(time.Millisecond),
		float64(rep.Records)/el.Seconds())
	for _, o := range rep.Objects {
		fmt.Fprintf(env.Stdout, "  %s  %d records  %s  %s\n", o.Day.Format(time.DateOnly), o.Rows, humanBytes(o.Bytes), o.Key)
	}
	return err
}

// spoolInput checks the whole input and copies its records, one per line,
// to an unlinked temporary file, so that nothing is stored when any record
// is bad. It returns the file, rewound, and the record count.
func spoolInput(env Env, in string, maxRecord int64) (*os.File, int64, error) {
	var r io.Reader = env.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return nil, 0, usageErr("%v", err)
		}
		defer f.Close()
		r = f
	}
	spool, err := os.CreateTemp("", "strata-ingest-*")
	if err != nil {
		return nil, 0, err
	}
	w := bufio.NewWriterSize(spool, 1<<20)
	var n int64
	err = ingest.ScanAuto(bufio.NewReaderSize(r, 1<<20), maxRecord, func(_ int, rec []byte) error {
		n++
		w.Write(rec)
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		spool.Close()
		os.Remove(spool.Name())
		var ie *ingest.InputError
		if errors.As(err, &ie) {
			return nil, 0, usageErr("%s: %v; nothing was stored", in, err)
		}
		return nil, 0, err
	}
	return spool, n, nil
}
