package server

import (
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	strata "github.com/stratahq/strata"
)

// routeAudit lists audit records (admin scope: who read what is itself
// sensitive).
const routeAudit = "GET /v1/audit"

// handleAudit lists audit records, oldest first: GET
// /v1/audit?dataset=&from=&to=&who=&limit= (all optional), as
// `strata audit list --format json` prints them, in {"records": [...]}.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditFilter(r)
	if err == nil && f.Dataset != "" {
		err = s.requireDataset(r, f.Dataset)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recs, err := s.svc.AuditList(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A token limited to some datasets sees only their records.
	recs = slices.DeleteFunc(recs, func(a strata.AuditRecord) bool { return !s.mayTouch(r.Context(), a.Dataset) })
	if recs == nil {
		recs = []strata.AuditRecord{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": recs})
}

// maxWho bounds the who parameter: an actor's name.
const maxWho = 255

// parseAuditFilter validates the audit listing's query.
func parseAuditFilter(r *http.Request) (strata.AuditFilter, error) {
	var f strata.AuditFilter
	v, err := query(r.URL.RawQuery, "dataset", "from", "to", "who", "limit")
	if err != nil {
		return f, err
	}
	if f.Dataset = v.Get("dataset"); f.Dataset != "" {
		if err := checkDataset(f.Dataset); err != nil {
			return f, err
		}
	}
	if f.Who = v.Get("who"); len(f.Who) > maxWho || !utf8.ValidString(f.Who) {
		return f, badRequest("who: use an actor's name of at most %d bytes of UTF-8", maxWho)
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > 100000 {
			return f, badRequest("limit %q: use a number from 1 to 100000", l)
		}
		f.Limit = n
	}
	f.From, f.To, err = parseRange(v, false)
	return f, err
}
