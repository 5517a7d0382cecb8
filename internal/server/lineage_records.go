package server

import (
	"net/http"

	strata "github.com/stratahq/strata"
)

// routeLineage is the evidence chain of a period, as strata lineage
// --format json prints it.
const routeLineage = "GET /v1/datasets/{dataset}/lineage"

// handleLineage answers GET /v1/datasets/{dataset}/lineage?from=&to=[&verify=true]
// with the strata.LineageReport of the period (docs/LINEAGE.md). from and
// to are required; verify reads every listed object back and checks its
// SHA-256, which may take long on a large period. The answer is 200 even
// when the report finds problems: integrity.ok says whether it did.
func (s *Server) handleLineage(w http.ResponseWriter, r *http.Request) {
	ds := r.PathValue("dataset")
	if err := checkDataset(ds); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := query(r.URL.RawQuery, "from", "to", "verify")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, to, err := parseRange(v, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	verify, err := parseBool("verify", v.Get("verify"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.svc.Lineage(r.Context(), strata.LineageRequest{Dataset: ds, From: from, To: to, Verify: verify})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
