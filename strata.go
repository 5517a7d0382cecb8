// Package strata is Strata's Go API: everything the strata command does, for
// Go programs. Open a Service from a configuration (strata.yaml), then
// retrieve archived rows (RetrieveArchivedData mirrors the spec's
// archival_service.retrieve_archived_data), ingest raw records, run the
// lifecycle jobs and read the catalog.
//
//	svc, err := strata.Open(ctx, strata.Options{ConfigFile: "strata.yaml"})
//	if err != nil { ... }
//	defer svc.Close()
//	rows, err := svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{
//		Table: "scor_metrics", DataType: "analytics",
//		Start: from, End: to, Columns: []string{"metric_id", "value", "timestamp"},
//	})
//	if err != nil { ... }
//	defer rows.Close()
//	for row, err := range rows.All() { ... }
//
// Errors caused by the request (an unknown dataset or column, a bad filter,
// a reversed range, bad records) match ErrInvalid or ErrNotFound with
// errors.Is; anything else is a failure of the database or the storage.
package strata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/intake"
	"github.com/stratahq/strata/internal/openlineage/observer"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
	"github.com/stratahq/strata/internal/storage/local"
	"github.com/stratahq/strata/internal/storage/s3"
	"github.com/stratahq/strata/internal/tables"
	"github.com/stratahq/strata/internal/transform"
)

// ErrInvalid matches every error caused by bad input: an unknown column, a
// bad filter or time range, malformed records, a bad configuration.
var ErrInvalid = errors.New("invalid request")

// ErrNotFound matches a request for a dataset (or a layer of it) that the
// configuration does not have.
var ErrNotFound = errors.New("not found")

// kindError marks an error as ErrInvalid or ErrNotFound without changing
// its message, which is written for the user.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// invalid returns a message as an error matching ErrInvalid.
func invalid(format string, args ...any) error {
	return &kindError{ErrInvalid, fmt.Errorf(format, args...)}
}

// asInvalid marks err as ErrInvalid.
func asInvalid(err error) error { return &kindError{ErrInvalid, err} }

// Options say how to open a Service.
type Options struct {
	// ConfigFile is the strata.yaml to load. Ignored when Config is set.
	ConfigFile string
	// Config is an already loaded and validated configuration.
	Config *config.Config
	// Getenv reads environment overrides and storage credentials;
	// os.Getenv when nil.
	Getenv func(string) string
	// Logger receives structured logs; nothing is logged when nil.
	Logger *slog.Logger
	// Failpoints are STRATA_FAILPOINTS-style crash points, for tests.
	Failpoints string
	// SpoolDir holds Parquet files while they are written, uploaded and
	// read; a folder in the system temporary directory when empty.
	SpoolDir string
}

// Service is an open connection to one Strata deployment: its database
// (Layers 2 and 3 and the catalog) and its archive storage. It is safe for
// concurrent use.
type Service struct {
	cfg    *config.Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	cat    *catalog.Catalog
	store  storage.Backend
	prefix storage.Key
	fp     failpoint.Set
	spool  string
	// lineage emits OpenLineage events; nil unless configured.
	lineage *observer.Observer
	// intake coalesces concurrent ingests (group commit).
	intake *intake.Intake
	// transforms reads each dataset's transform file again only when it
	// changes.
	transforms transform.Cache
	// immutable is set once the storage has confirmed the write-once
	// retention the datasets ask for (CheckImmutability).
	immutable atomic.Bool
	// audit records every action (strata.audit); anchors writes the
	// chain's head under auditDir ({prefix}/audit) in the storage.
	audit    *audit.Trail
	anchors  *audit.Anchorer
	auditDir storage.Key
	// tables publishes the lakehouse tables after each commit.
	tables *tables.Publisher
}

// Open loads the configuration, connects to the database (applying catalog
// migrations) and opens the storage.
func Open(ctx context.Context, opts Options) (*Service, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(opts.ConfigFile, getenv); err != nil {
			if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
				return nil, asInvalid(err)
			}
			return nil, err
		}
	}
	s := &Service{cfg: cfg, log: opts.Logger, spool: opts.SpoolDir}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.spool == "" {
		s.spool = filepath.Join(os.TempDir(), "strata-spool")
	}
	var err error
	if s.fp, err = failpoint.Parse(opts.Failpoints); err != nil {
		return nil, invalid("%v", err)
	}
	if s.prefix, err = storage.ParseKey(strings.Trim(cfg.Storage.Prefix, "/")); err != nil {
		return nil, invalid("storage.prefix %q: %v", cfg.Storage.Prefix, err)
	}
	if s.pool, err = openPool(ctx, cfg.Database.URL, PoolSize(cfg)); err != nil {
		return nil, err
	}
	if s.cat, err = catalog.Open(ctx, s.pool); err != nil {
		s.pool.Close()
		return nil, err
	}
	if s.store, err = openStore(ctx, cfg.Storage.URL, getenv); err != nil {
		s.cat.Close()
		s.pool.Close()
		return nil, err
	}
	s.lineage = observer.New(cfg, s.pool, s.prefix, s.log)
	if err := s.openAudit(); err != nil {
		s.cat.Close()
		s.pool.Close()
		return nil, err
	}
	s.intake = intake.New(s.Archiver(), s.audit)
	if s.tables, err = s.newPublisher(); err != nil {
		s.intake.Close()
		s.cat.Close()
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// Close sends the OpenLineage events still queued (waiting a few seconds
// at most) and releases the database connections.
func (s *Service) Close() {
	s.intake.Close()
	s.tables.Wait()
	s.closeTables()
	s.lineage.Close()
	s.cat.Close()
	s.pool.Close()
}

// Config is the configuration the Service runs with.
func (s *Service) Config() *config.Config { return s.cfg }

// Pool is the database pool (for Strata's own commands).
func (s *Service) Pool() *pgxpool.Pool { return s.pool }

// Catalog is the archive catalog (for Strata's own commands).
func (s *Service) Catalog() *catalog.Catalog { return s.cat }

// Store is the archive storage (for Strata's own commands).
func (s *Service) Store() storage.Backend { return s.store }

// Logger is the Service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Archiver returns an archiver wired to the Service (for Strata's own
// commands); set its Progress before use if wanted.
func (s *Service) Archiver() *archive.Archiver {
	return &archive.Archiver{Pool: s.pool, Catalog: s.cat, Store: s.store, Prefix: s.prefix,
		Log: s.log, Failpoints: s.fp, SpoolDir: s.spool, Observer: s.runObserver(), Holds: s.keeper()}
}

// Health checks that the database answers and the storage can be listed.
func (s *Service) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	if err := s.pool.Ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	if err := s.storageReachable(ctx); err != nil {
		errs = append(errs, fmt.Errorf("storage: %w", err))
	}
	return errors.Join(errs...)
}

// storageReachable lists the archive until its first object: that proves
// the storage answers, the credentials work and the container or folder
// exists, without reading or writing anything.
func (s *Service) storageReachable(ctx context.Context) error {
	err := s.store.List(ctx, s.prefix, func(storage.ObjectInfo) error { return errFound })
	if errors.Is(err, errFound) {
		return nil
	}
	return err
}

var errFound = errors.New("found an object")

// PoolSize is the database pool's size when database.url does not set
// pool_max_conns: 8, plus 2 per dataset (a batch being committed holds one
// connection for its transaction and briefly a second for its catalog
// writes). Waiting for a lock never holds a pool connection (locks are
// waited for on lock sessions, see catalog.Lock), so a smaller pool only
// lowers concurrency.
func PoolSize(cfg *config.Config) int32 { return 8 + 2*int32(len(cfg.Datasets)) }

// openPool connects with the session time zone set to UTC, so days are UTC
// days and timestamp columns compare as UTC.
func openPool(ctx context.Context, dbURL string, size int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, invalid("database.url %s: %v", config.RedactURL(dbURL), err)
	}
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "strata"
	if !strings.Contains(dbURL, "pool_max_conns") {
		pc.MaxConns = size
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(cctx, pc)
	if err == nil {
		err = pool.Ping(cctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("connect to database %s: %w (check database.url / STRATA_DATABASE_URL and that PostgreSQL is running)",
			config.RedactURL(dbURL), err)
	}
	return pool, nil
}

// openStore opens the backend named by a storage URL, behind the one retry layer.
func openStore(ctx context.Context, raw string, getenv func(string) string) (storage.Backend, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("storage.url: %v", err)
	}
	var b storage.Backend
	switch u.Scheme {
	case "file":
		b, err = local.FromURL(u)
	case "azblob":
		b, err = azblob.FromURL(ctx, u, getenv)
	case "s3":
		b, err = s3.FromURL(ctx, u, getenv)
	default:
		return nil, invalid("storage.url %s: scheme %q is not supported here (use file://, azblob:// or s3://)", config.RedactURL(raw), u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", config.RedactURL(raw), err)
	}
	return storage.WithRetry(b, storage.RetryPolicy{}), nil
}

// notFound returns a message as an error matching ErrNotFound.
func notFound(format string, args ...any) error {
	return &kindError{ErrNotFound, fmt.Errorf(format, args...)}
}
