package main

import (
	"github.com/stratahq/strata/internal/storage/local"

	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/demo"
)

// targetIngest is issue 10's figure (issue 3's was 20,000): records/s
// through strata ingest, end to end (Layer 3 + source archive + transform +
// Layer 2), for 1 KB records.
const targetIngest = 40_000

// ingestRuns measures `strata ingest` of -ingest-records raw 1 KB JSON
// records of the orders example dataset (its transform in transforms/),
// -reps times, each into fresh Layer 3 and Layer 2 tables.
func (b *bench) ingestRuns(ctx context.Context) ([]sample, error) {
	file := filepath.Join(b.state, "ingest-1k.jsonl")
	size, err := writeRecords(file, b.ingestRecords)
	if err != nil {
		return nil, err
	}
	b.step("ingest input: %s records, %s (%.0f bytes each on average)", thousands(float64(b.ingestRecords)), mb(size), float64(size)/float64(b.ingestRecords))
	i := 0
	return b.repeat("strata ingest (1 KB records)", func() (sample, error) {
		i++
		return b.ingestOnce(ctx, file, i)
	})
}

// writeRecords writes n orders records padded to about 1 KB with a note
// field, as a JSON-lines file, and returns its size.
func writeRecords(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	var size int64
	const batch = 10_000
	for done := 0; done < n; done += batch {
		recs := demo.Records(demo.Datasets[2], int64(done), min(batch, n-done), time.Now(), rng)
		for _, r := range recs {
			k, _ := w.Write(append(padRecord(r, rng), '\n'))
			size += int64(k)
		}
	}
	return size, w.Flush()
}

var noteWords = strings.Fields("order paid shipped customer mobile app web checkout fraud check passed gift wrap express delivery warehouse return pending")

// padRecord adds a note field of random words to an orders record, making
// it about 1 KB.
func padRecord(r []byte, rng *rand.Rand) []byte {
	var note strings.Builder
	for note.Len() < 760 {
		note.WriteString(noteWords[rng.IntN(len(noteWords))])
		note.WriteByte(' ')
	}
	return fmt.Appendf(nil, `%s, "note": %q}`, strings.TrimSuffix(strings.TrimSpace(string(r)), "}"), note.String())
}

func (b *bench) ingestOnce(ctx context.Context, file string, n int) (sample, error) {
	if err := b.freshIngestTables(ctx); err != nil {
		return sample{}, err
	}
	dir := filepath.Join(b.state, "archive", fmt.Sprintf("ingest-%d", n))
	if err := local.RemoveArchive(dir); err != nil {
		return sample{}, err
	}
	cfg, err := b.writeIngestConfig(n, dir)
	if err != nil {
		return sample{}, err
	}
	logf, err := os.Create(filepath.Join(b.state, fmt.Sprintf("ingest-%d.log", n)))
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, b.strata, "ingest", "--config", cfg, "--dataset", "orders", file)
	cmd.Stdout, cmd.Stderr = logf, logf
	m := startMeter(b.pg.cl.Dir)
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s ingest (output in %s): %w", b.strata, logf.Name(), err)
	}
	s := sample{Rows: int64(b.ingestRecords)}
	cpu, rss := rusage(cmd.ProcessState)
	m.stop(&s, cpu)
	s.MaxRSS = rss
	if s.Bytes, err = parquetBytes(dir); err != nil {
		return s, err
	}
	var processed int64
	if err := b.ingestDB().QueryRow(ctx, `SELECT count(*) FROM source_orders WHERE processed`).Scan(&processed); err != nil {
		return s, err
	}
	if processed != int64(b.ingestRecords) {
		return s, fmt.Errorf("after strata ingest %d records are processed, want %d", processed, b.ingestRecords)
	}
	return s, nil
}

// freshIngestTables (re)creates the orders example's Layer 3 and Layer 2
// tables, empty.
func (b *bench) freshIngestTables(ctx context.Context) error {
	ds := demo.Datasets[2]
	db := b.ingestDB()
	if _, err := db.Exec(ctx, `DROP TABLE IF EXISTS orders, source_orders; `+dropCatalog); err != nil {
		return err
	}
	if err := demo.Create(ctx, db, ds, 0); err != nil {
		return err
	}
	if err := demo.CreateSource(ctx, db, ds); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `CHECKPOINT`)
	return err
}

func (b *bench) writeIngestConfig(n int, dir string) (string, error) {
	tr, err := filepath.Abs("transforms/orders.sql")
	if err != nil {
		return "", err
	}
	return b.writeOrdersConfig(fmt.Sprintf("strata-ingest-%d.yaml", n), b.pg.cl.URL(b.ingestDBName()), dir, tr)
}

// writeOrdersConfig writes, as name in the state folder, the configuration
// of the orders example dataset in database dbURL with a file:// archive in
// dir and the transform file tr.
func (b *bench) writeOrdersConfig(name, dbURL, dir, tr string) (string, error) {
	return b.writeConfigFile(name, configHeader(dbURL, dir)+ordersDataset(tr))
}

// configHeader is the part of every bench configuration before its
// datasets: the database, a file:// archive in dir, quiet logs.
func configHeader(dbURL, dir string) string {
	return fmt.Sprintf(`# written by internal/bench
database:
  url: %s
storage:
  url: file://%s
  prefix: bench
log:
  level: warn
datasets:
`, dbURL, dir)
}

// ordersDataset is the orders example dataset with the transform file tr.
func ordersDataset(tr string) string {
	return fmt.Sprintf(`  - name: orders
    source:
      table: source_orders
      id_column: raw_id
      time_column: ingested_at
      payload_column: raw_data
    analytics:
      table: orders
      key: [order_id]
      time_column: ordered_at
    transform: %s
`, tr)
}

// writeConfigFile writes a configuration as name in the state folder.
func (b *bench) writeConfigFile(name, yaml string) (string, error) {
	path := filepath.Join(b.state, name)
	return path, os.WriteFile(path, []byte(yaml), 0o644)
}

func (b *bench) reportIngest(r *results) {
	if len(r.ingest) == 0 {
		return
	}
	m, lo, hi := best(r.ingest)
	got := rate(m.Rows, m.Wall)
	fmt.Fprintf(b.out, "\ningest (issues 3, 10): strata ingest of %s 1 KB records, end to end (Layer 3 + source archive + transform + Layer 2), fastest of %d:\n",
		thousands(float64(m.Rows)), len(r.ingest))
	fmt.Fprintf(b.out, "  %s records/s (%.2fs; runs %.2f-%.2fs), strata CPU %.2fs, PostgreSQL CPU %.2fs, other CPU %.2fs, peak RSS %s, source archive %s\n",
		thousands(got), m.Wall.Seconds(), lo.Seconds(), hi.Seconds(), m.ClientCPU.Seconds(), m.PGCPU.Seconds(), m.OtherCPU.Seconds(), mib(m.MaxRSS), mb(m.Bytes))
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  ingest\t>= %s records/s for 1 KB records\t%s\t%s\n", thousands(targetIngest), thousands(got), pass(got >= targetIngest))
	tw.Flush()
}

// ingestDB is the pool of the database the ingest measurements use: the
// benchmark's own, or the audit section's (whose rounds must leave the
// readings' catalog alone).
func (b *bench) ingestDB() *pgxpool.Pool {
	if b.audit != nil {
		return b.audit.pool
	}
	return b.pg.pool
}

// ingestDBName names ingestDB's database.
func (b *bench) ingestDBName() string {
	if b.audit != nil {
		return auditDB
	}
	return dbName
}
