package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
	"github.com/stratahq/strata/internal/storage/local"
)

// app is what a command needs once configuration is loaded.
type app struct {
	env   Env
	cfg   *config.Config
	log   *slog.Logger
	pool  *pgxpool.Pool
	cat   *catalog.Catalog
	store storage.Backend
	fp    failpoint.Set
}

// loadConfig finds and loads strata.yaml: --config, else $STRATA_CONFIG,
// else ./strata.yaml; with none of them, the environment alone.
func loadConfig(env Env, g *globalFlags) (*config.Config, error) {
	path := g.configPath
	if path == "" {
		path = env.Getenv("STRATA_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat("strata.yaml"); err == nil {
			path = "strata.yaml"
		}
	}
	if path == "" {
		return nil, usageErr("no configuration: pass --config strata.yaml, set STRATA_CONFIG, or run where strata.yaml is (strata.example.yaml shows every key; 'strata demo' needs none)")
	}
	cfg, err := config.Load(path, env.Getenv)
	if err != nil {
		if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
			return nil, &ExitError{Code: ExitUsage, Err: err}
		}
		return nil, err
	}
	return cfg, nil
}

// openApp loads the configuration and connects to the database (applying
// catalog migrations) and the storage.
func openApp(ctx context.Context, env Env, g *globalFlags) (*app, error) {
	cfg, err := loadConfig(env, g)
	if err != nil {
		return nil, err
	}
	a := &app{env: env, cfg: cfg, log: newLogger(env.Stderr, g.logLevel, cfg.Log)}
	if a.fp, err = failpoint.Parse(env.Getenv("STRATA_FAILPOINTS")); err != nil {
		return nil, usageErr("%v", err)
	}
	if a.pool, err = openPool(ctx, cfg.Database.URL); err != nil {
		return nil, err
	}
	if a.cat, err = catalog.Open(ctx, a.pool); err != nil {
		a.pool.Close()
		return nil, err
	}
	if a.store, err = openStore(ctx, cfg.Storage.URL, env.Getenv); err != nil {
		a.pool.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) close() {
	if a.pool != nil {
		a.pool.Close()
	}
}

// prefix is the validated storage prefix.
func (a *app) prefix() (storage.Key, error) {
	k, err := storage.ParseKey(strings.Trim(a.cfg.Storage.Prefix, "/"))
	if err != nil {
		return k, usageErr("storage.prefix %q: %v", a.cfg.Storage.Prefix, err)
	}
	return k, nil
}

// openPool connects with the session time zone set to UTC, so days are UTC
// days and timestamp columns compare as UTC.
func openPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, usageErr("database.url %s: %v", config.RedactURL(dbURL), err)
	}
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "strata"
	if pc.MaxConns < 8 {
		pc.MaxConns = 8
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
		return nil, usageErr("storage.url: %v", err)
	}
	var b storage.Backend
	switch u.Scheme {
	case "file":
		b, err = local.FromURL(u)
	case "azblob":
		b, err = azblob.FromURL(ctx, u, getenv)
	default:
		return nil, usageErr("storage.url %s: scheme %q is not supported here (use file:// or azblob://)", config.RedactURL(raw), u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", config.RedactURL(raw), err)
	}
	return storage.WithRetry(b, storage.RetryPolicy{}), nil
}

// newLogger writes structured logs to w: text on a terminal, JSON otherwise,
// unless the configuration says which.
func newLogger(w io.Writer, flagLevel string, lc config.Log) *slog.Logger {
	level := lc.Level
	if flagLevel != "" {
		level = flagLevel
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	format := lc.Format
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// spoolDir is where Parquet files wait for upload.
func spoolDir() string { return filepath.Join(os.TempDir(), "strata-spool") }
