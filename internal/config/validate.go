package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ErrInvalid matches (errors.Is) every error about the configuration's
// content, so a command can exit with status 2 (bad input).
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem with one key. Its message says what is wrong
// and how to fix it:
//
//	config strata.yaml: datasets[1].analytics.retention: "90" has no unit (use 90d)
type FieldError struct {
	File  string // the config file, "" when none
	Field string // the key's path (datasets[1].analytics.retention, 0-based), an env variable, or "line N"
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func (c *Config) fieldError(field, msg string) error {
	return &FieldError{File: c.File, Field: field, Msg: msg}
}

// problems collects FieldErrors so Validate can report all of them at once.
type problems struct {
	c    *Config
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, p.c.fieldError(field, fmt.Sprintf(format, args...)))
}

// check adds err, if any, as a problem with field.
func (p *problems) check(field string, err error) {
	if err != nil {
		p.add(field, "%s", err)
	}
}

// datasetName is the rule for dataset names, which become object-path
// segments and metric labels.
var datasetName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`) // and at most 63 bytes

// ValidDatasetName reports whether name can name a dataset, so that a name
// from a request that no configuration could hold is refused early.
func ValidDatasetName(name string) bool { return len(name) <= 63 && datasetName.MatchString(name) }

// Validate checks every key and returns all problems found, joined (nil if
// none). It does not touch the filesystem; see CheckFiles.
func (c *Config) Validate() error {
	p := &problems{c: c}
	c.validateDatabase(p)
	c.validateStorage(p)
	c.validateServerAndLog(p)
	c.validateLineage(p)
	c.validateErasure(p)
	checkDuration(p, "audit.anchor_every", c.Audit.AnchorEvery, false)
	for _, kv := range [][2]string{{"tables.delta", c.Tables.Delta}, {"tables.iceberg", c.Tables.Iceberg}} {
		if v := kv[1]; v != "" && v != "on" && v != "off" {
			p.add(kv[0], "%q: use on or off", v)
		}
	}
	if c.Tables.CheckpointEvery < 0 || c.Tables.CheckpointEvery > 1000 {
		p.add("tables.checkpoint_every", "%d: use a number of versions from 1 to 1000", c.Tables.CheckpointEvery)
	}
	names := map[string]int{}
	tables := map[string]string{}
	for i := range c.Datasets {
		ds := &c.Datasets[i]
		field := fmt.Sprintf("datasets[%d]", i)
		ds.validate(p, field)
		if j, dup := names[ds.Name]; dup && ds.Name != "" {
			p.add(field+".name", "%q is already the name of datasets[%d] (names must be unique)", ds.Name, j)
		} else {
			names[ds.Name] = i
		}
		checkTableUnique(p, tables, field+".source.table", ds.Source != nil, func() TableName { return ds.Source.Table })
		checkTableUnique(p, tables, field+".analytics.table", ds.Analytics != nil, func() TableName { return ds.Analytics.Table })
	}
	return errors.Join(p.errs...)
}

// checkTableUnique rejects two layers sharing one table: archiving one would
// delete the other's rows.
func checkTableUnique(p *problems, seen map[string]string, field string, present bool, table func() TableName) {
	if !present || table().IsZero() {
		return
	}
	name := table().String()
	if prev, ok := seen[name]; ok {
		p.add(field, "%q is already used by %s (every layer needs its own table)", name, prev)
		return
	}
	seen[name] = field
}

func (c *Config) validateDatabase(p *problems) {
	const field = "database.url"
	if c.Database.URL == "" {
		p.add(field, "is required (set it in the file or in STRATA_DATABASE_URL)")
		return
	}
	u, err := parseURL(c.Database.URL)
	switch {
	case err != nil:
		p.add(field, "is not a URL: %s (use postgres://USER@HOST:5432/DB)", err)
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		p.add(field, "has scheme %q (use postgres://USER@HOST:5432/DB)", u.Scheme)
	}
}

func (c *Config) validateStorage(p *problems) {
	const field = "storage.url"
	if c.Storage.URL == "" {
		p.add(field, "is required (set it in the file or in STRATA_STORAGE_URL)")
	} else if err := checkStorageURL(c.Storage.URL); err != nil {
		p.check(field, err)
	}
	if c.Storage.Prefix != "" {
		p.check("storage.prefix", checkPrefix(c.Storage.Prefix))
	}
}

func checkStorageURL(s string) error {
	u, err := parseURL(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.Path == "/" {
			return errors.New("needs an absolute folder path (use file:///var/lib/strata/archive, with three slashes)")
		}
	case "azblob":
		if u.Host == "" {
			return errors.New("names no container (use azblob://CONTAINER?account=NAME)")
		}
	case "s3":
		if u.Host == "" {
			return errors.New("names no bucket (use s3://BUCKET?region=REGION)")
		}
		if u.Query().Get("region") == "" {
			return errors.New("names no region (use s3://BUCKET?region=REGION[&endpoint=URL][&path_style=true])")
		}
	default:
		return fmt.Errorf("has scheme %q (use file://, azblob:// or s3://)", u.Scheme)
	}
	return nil
}

// parseURL parses s; its error never repeats s, which may hold a secret.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, ue.Err
	}
	if err == nil && u.Scheme == "" {
		return nil, errors.New("it has no scheme")
	}
	return u, err
}

// prefixSegment is the character set storage keys allow.
var prefixSegment = regexp.MustCompile(`^[A-Za-z0-9_.=-]+$`) // and at most 255 bytes

func checkPrefix(prefix string) error {
	for seg := range strings.SplitSeq(prefix, "/") {
		if len(seg) > 255 || !prefixSegment.MatchString(seg) || seg == "." || seg == ".." {
			return fmt.Errorf("%q is not a safe object path (use segments of letters, digits, _ - . = joined by /, no leading or trailing /)", prefix)
		}
	}
	return nil
}

func (c *Config) validateServerAndLog(p *problems) {
	if _, port, err := net.SplitHostPort(c.Server.Listen); err != nil {
		p.add("server.listen", "%q is not host:port (use 127.0.0.1:8080, or :8080 for every interface)", c.Server.Listen)
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		p.add("server.listen", "%q has an invalid port (use a number from 0 to 65535)", c.Server.Listen)
	}
	switch c.Server.Scheduler {
	case "on", "off":
	default:
		p.add("server.scheduler", "%q is not on or off", c.Server.Scheduler)
	}
	if c.Server.MaxBodyBytes < 1024 {
		p.add("server.max_body_bytes", "%d is too small (use at least 1024 bytes)", c.Server.MaxBodyBytes)
	}
	if c.Server.MaxResultRows < 1 {
		p.add("server.max_result_rows", "%d is not a positive number of rows", c.Server.MaxResultRows)
	}
	checkDuration(p, "server.max_span", c.Server.MaxSpan, false)
	checkDuration(p, "server.request_timeout", c.Server.RequestTimeout, false)
	checkDuration(p, "server.shutdown_timeout", c.Server.ShutdownTimeout, false)
	c.validateAccess(p)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not a level (use debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		p.add("log.format", "%q is not a format (use auto, text or json)", c.Log.Format)
	}
}

// StatFunc is os.Stat's signature, injected so tests need no files.
type StatFunc func(name string) (fs.FileInfo, error)

// CheckFiles checks that every dataset's transform file exists and is a
// regular file, using stat (os.Stat in production).
func (c *Config) CheckFiles(stat StatFunc) error {
	p := &problems{c: c}
	for i := range c.Datasets {
		path := c.TransformPath(&c.Datasets[i])
		if path == "" {
			continue
		}
		field := fmt.Sprintf("datasets[%d].transform", i)
		fi, err := stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.add(field, "%s does not exist (the path is relative to the config file's folder)", path)
		case err != nil:
			p.add(field, "%s cannot be read: %v", path, err)
		case !fi.Mode().IsRegular():
			p.add(field, "%s is not a regular file (give the path of a .sql file)", path)
		}
	}
	return errors.Join(p.errs...)
}

// lineageNamespace is what an OpenLineage job namespace may hold: it shows
// in Marquez and in URLs, so keep it to a plain name.
var lineageNamespace = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`) // and at most 255 bytes

func (c *Config) validateLineage(p *problems) {
	if raw := c.Lineage.OpenLineageURL; raw != "" {
		u, err := parseURL(raw)
		switch {
		case err != nil:
			p.add("lineage.openlineage_url", "is not a URL: %s (use http://marquez:5000/api/v1/lineage)", err)
		case u.Scheme != "http" && u.Scheme != "https":
			p.add("lineage.openlineage_url", "has scheme %q (use http:// or https://, e.g. http://marquez:5000/api/v1/lineage)", u.Scheme)
		case u.Host == "":
			p.add("lineage.openlineage_url", "names no host (use http://marquez:5000/api/v1/lineage)")
		}
	}
	if f := c.Lineage.OpenLineageFile; f != "" && (strings.HasSuffix(f, "/") || strings.ContainsRune(f, 0)) {
		p.add("lineage.openlineage_file", "%q is not a file path (give a file such as /var/log/strata/openlineage.jsonl)", f)
	}
	if len(c.Lineage.Namespace) > 255 || !lineageNamespace.MatchString(c.Lineage.Namespace) {
		p.add("lineage.namespace", "%q is not a namespace (use 1 to 255 letters, digits and _ . : / -, e.g. strata or strata-prod)", c.Lineage.Namespace)
	}
}
