package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/storage"
)

// app is what a command needs once configuration is loaded.
type app struct {
	env   Env
	cfg   *config.Config
	log   *slog.Logger
	svc   *strata.Service
	pool  *pgxpool.Pool
	cat   *catalog.Catalog
	store storage.Backend
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

// openApp loads the configuration and opens the Service: the database
// (applying catalog migrations) and the storage.
func openApp(ctx context.Context, env Env, g *globalFlags) (*app, error) {
	cfg, err := loadConfig(env, g)
	if err != nil {
		return nil, err
	}
	a := &app{env: env, cfg: cfg, log: newLogger(env.Stderr, g.logLevel, cfg.Log)}
	a.svc, err = strata.Open(ctx, strata.Options{Config: cfg, Getenv: env.Getenv, Logger: a.log,
		Failpoints: env.Getenv("STRATA_FAILPOINTS"), SpoolDir: spoolDir()})
	if err != nil {
		return nil, err
	}
	a.pool, a.cat, a.store = a.svc.Pool(), a.svc.Catalog(), a.svc.Store()
	return a, nil
}

// openWriter is openApp for a command that writes (archives, ingests,
// deletes): with archive.immutability on it first checks that the storage
// enforces it, and fails with the storage's reason when it does not.
func openWriter(ctx context.Context, env Env, g *globalFlags) (*app, error) {
	a, err := openApp(ctx, env, g)
	if err != nil {
		return nil, err
	}
	if err := a.svc.CheckImmutability(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// openFor is openWriter when writes is true, openApp otherwise.
func openFor(ctx context.Context, env Env, g *globalFlags, writes bool) (*app, error) {
	if writes {
		return openWriter(ctx, env, g)
	}
	return openApp(ctx, env, g)
}

func (a *app) close() { a.svc.Close() }

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
