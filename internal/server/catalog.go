package server

import (
	"net/http"
	"time"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/catalog"
)

// catalogObject is one archive object in the catalog listing.
type catalogObject struct {
	ID               int64      `json:"id"`
	Dataset          string     `json:"dataset"`
	Type             string     `json:"type"`
	Day              string     `json:"day"`
	Key              string     `json:"key"`
	Rows             int64      `json:"rows"`
	Bytes            int64      `json:"bytes"`
	SHA256           string     `json:"sha256"`
	MinTime          *time.Time `json:"min_time"`
	MaxTime          *time.Time `json:"max_time"`
	CreatedAt        time.Time  `json:"created_at"`
	CommittedAt      *time.Time `json:"committed_at"`
	ExpiresAt        *time.Time `json:"expires_at"`
	TransformVersion string     `json:"transform_version"`
	// RetentionMode ("governance", "compliance" or null) and RetainUntil
	// are the write-once retention the upload asked the storage for.
	RetentionMode *string    `json:"retention_mode"`
	RetainUntil   *time.Time `json:"retain_until"`
	// VersionID is the storage version the object was written as (null
	// on a store without versions).
	VersionID *string `json:"version_id"`
}

// handleCatalog lists committed, current archive objects: GET
// /v1/catalog?dataset=&type=&from=&to= (all optional).
func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request) {
	f, err := parseCatalogFilter(r)
	if err == nil && f.Dataset != "" {
		err = s.requireDataset(r, f.Dataset)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	objs, err := s.svc.ListCatalog(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]catalogObject, 0, len(objs))
	for _, o := range objs {
		if s.mayTouch(r.Context(), o.Dataset) { // without ?dataset=, only the token's datasets
			out = append(out, objectOf(o))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"objects": out})
}

// parseCatalogFilter validates the catalog listing's query.
func parseCatalogFilter(r *http.Request) (strata.CatalogFilter, error) {
	var f strata.CatalogFilter
	v, err := query(r.URL.RawQuery, "dataset", "type", "from", "to")
	if err != nil {
		return f, err
	}
	if f.Dataset = v.Get("dataset"); f.Dataset != "" {
		if err := checkDataset(f.Dataset); err != nil {
			return f, err
		}
	}
	if f.Type = v.Get("type"); f.Type != "" {
		if err := checkType("type", f.Type); err != nil {
			return f, err
		}
	}
	f.From, f.To, err = parseRange(v, false)
	return f, err
}

func objectOf(o catalog.Object) catalogObject {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return catalogObject{ID: o.ID, Dataset: o.Dataset, Type: o.Type, Day: o.Day.UTC().Format(time.DateOnly),
		Key: o.Key, Rows: o.Rows, Bytes: o.Bytes, SHA256: o.SHA256, MinTime: utc(o.MinTime), MaxTime: utc(o.MaxTime),
		CreatedAt: o.CreatedAt.UTC(), CommittedAt: utc(o.CommittedAt), ExpiresAt: utc(o.ExpiresAt),
		TransformVersion: o.TransformVersion, RetentionMode: nonEmpty(o.RetentionMode), RetainUntil: utc(o.RetainUntil),
		VersionID: nonEmpty(o.VersionID)}
}

// nonEmpty is s, or nil (JSON null) when empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// handleHealth answers 200 when the database and the storage answer, 503
// otherwise, saying which failed.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Health(r.Context()); err != nil {
		s.log.Warn("health check failed", "request_id", requestID(r.Context()), "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": clientMessage(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
