package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/pglocal"
	"github.com/stratahq/strata/internal/retrieve"
	"github.com/stratahq/strata/internal/storage/local"
	"github.com/stratahq/strata/internal/units"
	"github.com/stratahq/strata/transforms"
)

const (
	demoDays = 120
	demoDB   = "strata_demo"
)

func newDemoCmd(env Env, g *globalFlags) *cobra.Command {
	var state string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo [up|down]",
		Short: "Run the whole flow on a throwaway local PostgreSQL and a local-disk archive",
		Long: `Demo starts a throwaway PostgreSQL 15 (its data in --state, run as the
postgres user when you are root, on a free port), creates the spec's example
datasets customers, scor_metrics and orders with 120 days of rows, archives
every day older than 90 days to a local-disk archive in --state, and prints
what it did. The database is stopped at the end unless --keep is given.

'strata demo up' starts the demo database again and prints its URL;
'strata demo down' stops it. The demo's configuration is --state/strata.yaml.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDemo(c.Context(), env, g, state, keep)
		},
	}
	cmd.PersistentFlags().StringVar(&state, "state", ".demo", "folder for the demo's database, archive and config")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the demo database running at the end")
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Start the demo's PostgreSQL (creating it if needed) and print its connection settings",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := pglocal.Open(c.Context(), filepath.Join(state, "pgdata"), pglocal.Options{})
			if err != nil {
				return err
			}
			if err := cl.Start(c.Context()); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "export STRATA_DATABASE_URL=%s\n", cl.URL(demoDB))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "down",
		Short: "Stop the demo's PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := pglocal.Open(c.Context(), filepath.Join(state, "pgdata"), pglocal.Options{})
			if err != nil {
				return err
			}
			return cl.Stop(c.Context())
		},
	})
	return cmd
}

func runDemo(ctx context.Context, env Env, g *globalFlags, state string, keep bool) (err error) {
	out := env.Stdout
	state, err = filepath.Abs(state)
	if err != nil {
		return err
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }
	step("starting a throwaway PostgreSQL in %s", filepath.Join(state, "pgdata"))
	cl, err := pglocal.Open(ctx, filepath.Join(state, "pgdata"), pglocal.Options{})
	if err != nil {
		return err
	}
	if err := cl.Start(ctx); err != nil {
		return err
	}
	if !keep {
		defer func() {
			if serr := cl.Stop(context.WithoutCancel(ctx)); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	cfgPath, err := prepareDemo(ctx, cl, state)
	if err != nil {
		return err
	}
	g2 := *g
	g2.configPath = cfgPath
	if g2.logLevel == "" {
		g2.logLevel = "warn"
	}
	a, err := openApp(ctx, env, &g2)
	if err != nil {
		return err
	}
	defer a.close()
	step("creating customers, scor_metrics and orders with %d days of Layer 2 rows, and their empty Layer 3 tables", demoDays)
	for _, ds := range demo.Datasets {
		if err := demo.Create(ctx, a.pool, ds, demoDays); err != nil {
			return err
		}
		if err := demo.CreateSource(ctx, a.pool, ds); err != nil {
			return err
		}
	}
	return demoFlow(ctx, a, state, cfgPath, keep)
}

// prepareDemo creates a fresh demo database and archive folder and writes
// the demo's strata.yaml.
func prepareDemo(ctx context.Context, cl *pglocal.Cluster, state string) (string, error) {
	conn, err := pgx.Connect(ctx, cl.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to the demo database: %w", err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{`DROP DATABASE IF EXISTS strata_demo WITH (FORCE)`, `CREATE DATABASE strata_demo`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("reset the demo database: %w", err)
		}
	}
	archiveDir := filepath.Join(state, "archive")
	if err := local.RemoveArchive(archiveDir); err != nil {
		return "", err
	}
	if err := writeTransforms(filepath.Join(state, "transforms")); err != nil {
		return "", err
	}
	var ds strings.Builder
	for _, d := range demo.Datasets {
		fmt.Fprintf(&ds, `  - name: %s
    source:
      table: %s
      id_column: raw_id
      time_column: ingested_at
      payload_column: raw_data
      retention: 7d
    analytics:
      table: %s
      key: [%s]
      time_column: %s
      retention: 90d
    transform: transforms/%s.sql
    archive:
      compression: snappy
      retention: 7y
`, d.Name, demo.SourceTable(d), d.Table, d.Key, d.TimeColumn, d.Name)
		if d.Name == "customers" {
			ds.WriteString("    subject:\n      columns: [customer_id]\n      source_path: customer_id\n")
		}
	}
	u := cl.URL(demoDB)
	yaml := fmt.Sprintf(`# Written by 'strata demo'. Point database.url and storage.url at your own
# database and storage to use Strata for real; strata.example.yaml shows every key.
database:
  url: %s
storage:
  url: file://%s
  prefix: analytics_service
erasure:
  key_file: erasure.key
datasets:
%s`, u, archiveDir, ds.String())
	path := filepath.Join(state, "strata.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// writeTransforms copies the example transforms next to the demo's config.
func writeTransforms(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := fs.Glob(transforms.FS, "*.sql")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := transforms.FS.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func demoFlow(ctx context.Context, a *app, state, cfgPath string, keep bool) error {
	out := a.env.Stdout
	before, err := tableBytes(ctx, a)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "==> archiving every whole day older than 90 days to %s\n", filepath.Join(state, "archive"))
	arch, err := a.archiver()
	if err != nil {
		return err
	}
	specs, err := analyticsSpecs(a.svc, "", false)
	if err != nil {
		return err
	}
	reports := map[string]archive.Report{}
	start := time.Now()
	for _, spec := range specs {
		rep, err := arch.Analytics(ctx, spec, archive.Options{})
		if err != nil {
			return err
		}
		reports[spec.Dataset] = rep
	}
	elapsed := time.Since(start)
	if _, err := a.pool.Exec(ctx, `VACUUM FULL customers, scor_metrics, orders`); err != nil {
		return err
	}
	after, err := tableBytes(ctx, a)
	if err != nil {
		return err
	}
	printDemoTable(out, specs, reports, before, after, elapsed)
	if err := demoRetrieve(ctx, a, reports["scor_metrics"]); err != nil {
		return err
	}
	if err := demoIngest(ctx, a, arch); err != nil {
		return err
	}
	if err := demoWhere(ctx, a); err != nil {
		return err
	}
	if err := demoServe(ctx, a); err != nil {
		return err
	}
	if err := demoLineage(ctx, a); err != nil {
		return err
	}
	day := reports["orders"].Days
	sample := "2024-11-01"
	if len(day) > 0 {
		sample = day[0].Day.Format(time.DateOnly)
		if err := demoCompliance(ctx, a, day[0].Day); err != nil {
			return err
		}
	}
	vrep, err := arch.Verify(ctx, archive.VerifyOptions{Deep: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n==> strata verify --deep: %d objects read whole, %d problem(s)\n", vrep.Checked, len(vrep.Problems))
	printDemoNext(out, state, cfgPath, sample, keep)
	return nil
}

func tableBytes(ctx context.Context, a *app) (map[string]int64, error) {
	m := map[string]int64{}
	for _, d := range demo.Datasets {
		var n int64
		if err := a.pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, d.Table).Scan(&n); err != nil {
			return nil, err
		}
		m[d.Name] = n
	}
	return m, nil
}

func printDemoTable(out io.Writer, specs []archive.AnalyticsSpec, reports map[string]archive.Report, before, after map[string]int64, elapsed time.Duration) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DATASET\tDAYS\tROWS ARCHIVED\tOBJECTS\tPOSTGRES BEFORE\tPOSTGRES AFTER\tARCHIVE BYTES\t")
	var rows, bytes, b0, b1 int64
	var objs int
	for _, s := range specs {
		r := reports[s.Dataset]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", s.Dataset, len(r.Days), r.Rows(), len(r.Days),
			units.Bytes(before[s.Dataset]), units.Bytes(after[s.Dataset]), units.Bytes(r.Bytes()))
		rows, bytes, objs = rows+r.Rows(), bytes+r.Bytes(), objs+len(r.Days)
		b0, b1 = b0+before[s.Dataset], b1+after[s.Dataset]
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%s\t%s\t%s\t\n", rows, objs, units.Bytes(b0), units.Bytes(b1), units.Bytes(bytes))
	tw.Flush()
	fmt.Fprintf(out, "(%s; PostgreSQL sizes are pg_total_relation_size, after VACUUM FULL gave the space back; archive is snappy Parquet)\n",
		elapsed.Round(time.Millisecond))
}

func demoRetrieve(ctx context.Context, a *app, rep archive.Report) error {
	if len(rep.Days) == 0 {
		return nil
	}
	day := rep.Days[len(rep.Days)-1].Day
	from, to := day, day.Add(2*time.Minute)
	fmt.Fprintf(a.env.Stdout, "\n==> sample retrieval: scor_metrics, %s to %s, columns metric_id,value,timestamp,process_id\n",
		from.Format(time.RFC3339), to.Format(time.RFC3339))
	r := &retrieve.Retriever{Catalog: a.cat, Store: a.store, SpoolDir: spoolDir()}
	rows, err := r.Query(ctx, retrieve.Request{Dataset: "scor_metrics", Type: "analytics", From: from, To: to,
		Columns: []string{"metric_id", "value", "timestamp", "process_id"}, TimeColumn: "timestamp"})
	if err != nil {
		return err
	}
	defer rows.Close()
	_, err = retrieve.Write(a.env.Stdout, rows, "jsonl")
	return err
}

func printDemoNext(out io.Writer, state, cfgPath, day string, keep bool) {
	today := time.Now().UTC().Format(time.DateOnly)
	rel := func(p string) string {
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
				return r
			}
		}
		return p
	}
	cfg := rel(cfgPath)
	fmt.Fprintln(out, "\n==> look further")
	if !keep {
		fmt.Fprintf(out, "  bin/strata demo up --state %s     # start the demo database again\n", rel(state))
	}
	fmt.Fprintf(out, `  export STRATA_CONFIG=%s
  bin/strata catalog list
  bin/strata retrieve --dataset orders --type analytics --from %s --to %s --format csv | head
  bin/strata retrieve --dataset customers --type source --from %s --to %s | head -3
  bin/strata ingest --dataset orders %s   # one raw JSON record per line
  bin/strata archive --dry-run                # nothing left to archive
  bin/strata serve                            # HTTP API on 127.0.0.1:8080, the web console at /
  bin/strata verify --deep
  bin/strata compare --dataset orders --from %s --to %s
  bin/strata lineage --dataset orders --from %s --to %s
  bin/strata hold list --all                  # the demo's released legal hold: who, when, why
  bin/strata erase show 1                     # the erasure's certificate (JSON)
  bin/strata audit list --format json | tail -3
  bin/strata audit verify
  ls -R %s | head
  bin/strata demo down --state %s            # stop the demo database
`, cfg, day, day, today, today, rel(filepath.Join(state, "sample-orders.jsonl")), today, today, today, today,
		rel(filepath.Join(state, "archive")), rel(state))
}

const demoRecords = 2000

// demoIngest runs raw records through strata ingest's path for each dataset
// and shows the source archive they went to.
func demoIngest(ctx context.Context, a *app, arch *archive.Archiver) error {
	out := a.env.Stdout
	fmt.Fprintf(out, "\n==> ingesting %d raw JSON records per dataset: Layer 3 + source archive + transform into Layer 2, one transaction per batch\n", demoRecords)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DATASET\tRECORDS\tSOURCE OBJECTS\tARCHIVE BYTES\tLAYER 2 ROWS UPSERTED\tPROCESSED\t")
	rng := rand.New(rand.NewPCG(1, 2))
	var first string
	for _, d := range demo.Datasets {
		ds, _ := a.cfg.Dataset(d.Name)
		spec, err := a.svc.SourceSpec(ds)
		if err != nil {
			return err
		}
		recs := demo.Records(d, 10_000_000, demoRecords, time.Now(), rng)
		i := 0
		rep, err := arch.Ingest(ctx, spec, func() ([]byte, error) {
			if i == len(recs) {
				return nil, io.EOF
			}
			i++
			return recs[i-1], nil
		})
		if err != nil {
			return err
		}
		var bytes int64
		for _, o := range rep.Objects {
			bytes += o.Bytes
		}
		if first == "" && len(rep.Objects) > 0 {
			first = rep.Objects[0].Key
		}
		var upserted, processed int64
		if err := a.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+d.Table+` WHERE `+d.Key+` >= 10000000),
			(SELECT count(*) FROM `+demo.SourceTable(d)+` WHERE processed)`).Scan(&upserted, &processed); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t\n", d.Name, rep.Records, len(rep.Objects), units.Bytes(bytes), upserted, processed)
	}
	tw.Flush()
	fmt.Fprintf(out, "(every 25th record repeats an earlier key: the latest received wins in Layer 2; objects such as %s)\n", first)
	sample := demo.Records(demo.Datasets[2], 20_000_000, 10, time.Now(), rng)
	var b []byte
	for _, r := range sample {
		b = append(append(b, r...), '\n')
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(a.cfg.File), "sample-orders.jsonl"), b, 0o644); err != nil {
		return err
	}
	return demoRetrieveSource(ctx, a)
}

func demoRetrieveSource(ctx context.Context, a *app) error {
	now := time.Now().UTC()
	fmt.Fprintln(a.env.Stdout, "\n==> sample retrieval of the source archive: the first 2 customers records, byte for byte as received, with their SHA-256")
	r := &retrieve.Retriever{Catalog: a.cat, Store: a.store, SpoolDir: spoolDir()}
	rows, err := r.Query(ctx, retrieve.Request{Dataset: "customers", Type: "source", From: now.Add(-24 * time.Hour), To: now.Add(time.Hour),
		Columns: []string{"raw_id", "raw_data", "raw_sha256"}, TimeColumn: "ingested_at", RawColumns: []string{"raw_data"}})
	if err != nil {
		return err
	}
	defer rows.Close()
	var b strings.Builder
	if _, err := retrieve.Write(&b, rows, "jsonl"); err != nil {
		return err
	}
	lines := strings.SplitN(b.String(), "\n", 3)
	for _, l := range lines[:min(2, len(lines))] {
		fmt.Fprintln(a.env.Stdout, l)
	}
	return nil
}
