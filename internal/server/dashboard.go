package server

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"time"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/units"
)

//go:embed dashboard.html
var dashboardHTML string

// dashboardTmpl renders the dashboard; html/template escapes every value.
var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"bytes": units.Bytes,
	"when":  when,
}).Parse(dashboardHTML))

// dashboard is what the dashboard shows.
type dashboard struct {
	Now        time.Time
	Datasets   []dashDataset
	CatalogErr string
	Scheduler  bool
	Jobs       []JobStatus
	Metrics    bool
	// User is the signed-in token's name; empty when no token is configured.
	User string
	// Login shows the sign-in form instead, with LoginError above it.
	Login      bool
	LoginError string
}

type dashDataset struct {
	Name      string
	Transform string
	Layers    []dashLayer
}

// dashLayer sums a dataset's archive of one type.
type dashLayer struct {
	Type    string
	Table   string
	Objects int
	Rows    int64
	Bytes   int64
	Newest  string
}

// handleDashboard serves a self-contained HTML page: the datasets and
// their archives, the scheduler's jobs and links to /metrics and /healthz.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	d := dashboard{Now: time.Now().UTC(), Scheduler: s.jobs != nil, Metrics: s.reg != nil}
	if tok := auth.From(r.Context()); tok != nil {
		d.User = tok.Name
	}
	objs, err := s.svc.ListCatalog(r.Context(), strata.CatalogFilter{})
	if err != nil {
		s.log.Warn("dashboard: catalog", "request_id", requestID(r.Context()), "err", err)
		d.CatalogErr = "the catalog could not be read (see the server log)"
	}
	sums := map[[2]string]*dashLayer{}
	for _, ds := range s.svc.Config().Datasets {
		if s.mayTouch(r.Context(), ds.Name) {
			d.Datasets = append(d.Datasets, datasetOf(ds, sums))
		}
	}
	for _, o := range objs {
		if l := sums[[2]string{o.Dataset, o.Type}]; l != nil {
			l.Objects++
			l.Rows += o.Rows
			l.Bytes += o.Bytes
			if day := o.Day.UTC().Format(time.DateOnly); day > l.Newest {
				l.Newest = day
			}
		}
	}
	if s.jobs != nil {
		for _, j := range s.jobs() {
			if s.mayTouch(r.Context(), j.Dataset) {
				d.Jobs = append(d.Jobs, j)
			}
		}
	}
	var buf bytes.Buffer
	if err := dashboardTmpl.Execute(&buf, d); err != nil {
		s.fail(w, r, err)
		return
	}
	writePage(w, http.StatusOK, buf.Bytes())
}

// datasetOf describes a configured dataset, registering its layers in sums
// (filled in from the catalog afterwards).
func datasetOf(ds config.Dataset, sums map[[2]string]*dashLayer) dashDataset {
	out := dashDataset{Name: ds.Name, Transform: ds.Transform}
	if ds.Source != nil {
		out.Layers = append(out.Layers, dashLayer{Type: "source", Table: ds.Source.Table.String()})
	}
	if ds.Analytics != nil {
		out.Layers = append(out.Layers, dashLayer{Type: "analytics", Table: ds.Analytics.Table.String()})
	}
	for i := range out.Layers {
		sums[[2]string{ds.Name, out.Layers[i].Type}] = &out.Layers[i]
	}
	return out
}

// when prints a time for the dashboard, or a dash when it is zero.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
