package server

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/config"
)

// maxWhereBytes bounds a filter expression.
const maxWhereBytes = 4096

// checkDataset refuses a dataset name that no configuration can have.
func checkDataset(name string) error {
	if !config.ValidDatasetName(name) {
		return badRequest("dataset %s is not a dataset name (lower-case letters, digits and _, starting with a letter, at most 63)", quoteShort(name))
	}
	return nil
}

// checkType refuses an archive type other than analytics and source.
func checkType(param, typ string) error {
	if typ != "analytics" && typ != "source" {
		return badRequest("%s %s: use analytics or source", param, quoteShort(typ))
	}
	return nil
}

// query parses a raw query string strictly: malformed escapes, unknown
// parameters (a typo would otherwise be ignored) and repeated parameters
// are refused.
func query(raw string, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("query string: %v", err)
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return nil, badRequest("unknown parameter %s (parameters here: %s)", quoteShort(k), strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, badRequest("parameter %s is given %d times; give it once", k, len(vs))
		}
	}
	return q, nil
}

// parseTime reads a time parameter with strata.ParseTime's rules.
func parseTime(param, s string, end bool) (time.Time, error) {
	t, err := strata.ParseTime(s, end)
	if err != nil {
		return t, badRequest("%s %s: %v", param, quoteShort(s), err)
	}
	return t, nil
}

// parseRange reads from and to. When required, both must be given; the
// range must not be reversed.
func parseRange(q url.Values, required bool) (from, to time.Time, err error) {
	f, t := q.Get("from"), q.Get("to")
	if required && (f == "" || t == "") {
		return from, to, badRequest("from and to are required: RFC 3339 times (2024-11-01T00:00:00Z) or dates (2024-11-01)")
	}
	if f != "" {
		if from, err = parseTime("from", f, false); err != nil {
			return from, to, err
		}
	}
	if t != "" {
		if to, err = parseTime("to", t, true); err != nil {
			return from, to, err
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return from, to, badRequest("to %s is before from %s", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	return from, to, nil
}

// parseColumns reads a comma-separated list of column names, each a plain
// identifier.
func parseColumns(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var cols []string
	for c := range strings.SplitSeq(s, ",") {
		c = strings.TrimSpace(c)
		if err := config.ValidateIdentifier(c); err != nil {
			return nil, badRequest("columns: column %s", err)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// parseBool reads true or false (1 or 0); empty is false.
func parseBool(param, s string) (bool, error) {
	switch s {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest("%s %s: use true or false", param, quoteShort(s))
}
