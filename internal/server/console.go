package server

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/lineage"
	"github.com/stratahq/strata/internal/overview"
	"github.com/stratahq/strata/internal/units"
)

// The web console (docs/HTTP.md, Console): server-rendered pages over the
// Service, like the JSON API. Each page is read in the request that asks
// for it; nothing is held between requests.
const (
	routeOverview = "GET /{$}"
	routeDay      = "GET /console/day"
	routeLineageP = "GET /console/lineage"
	routeJobs     = "GET /console/jobs"
	routeScript   = "GET /console/console.js"
)

// Console defaults and bounds.
const (
	// sampleRows is how many first rows of each object the day view shows.
	sampleRows = 5
	// runsPerJob is how many runs of each job the jobs view lists.
	runsPerJob = 5
	// lineageDays is the default period of the lineage form.
	lineageDays = 7
)

//go:embed console/*.html console/console.js
var consoleFS embed.FS

// consoleTemplates are the pages, each parsed with the layout.
type consoleTemplates map[string]*consolePage

// consolePage is one page's template and the size of its last rendering,
// the next one's first buffer (an overview of thousands of days is
// megabytes: growing to it by doubling costs more than rendering it).
type consolePage struct {
	tmpl *template.Template
	size atomic.Int64
}

func newConsoleTemplates() consoleTemplates {
	out := consoleTemplates{}
	for _, name := range []string{"login", "overview", "day", "lineage", "jobs"} {
		out[name] = &consolePage{tmpl: template.Must(template.New(name).Funcs(consoleFuncs).ParseFS(consoleFS, "console/layout.html", "console/"+name+".html"))}
	}
	return out
}

// page is what every console page gets.
type page struct {
	Title, Page string
	Now         time.Time
	User        string
	Metrics     bool
	Login       bool
	LoginError  string
	// Err is a message for the whole page (the data could not be read).
	Err  string
	Data any
}

// newPage starts a page for r.
func (s *Server) newPage(r *http.Request, name, title string) page {
	p := page{Title: title, Page: name, Now: time.Now().UTC(), Metrics: s.reg != nil}
	if tok := auth.From(r.Context()); tok != nil {
		p.User = tok.Name
	}
	return p
}

// render answers with the page p rendered by the template of p.Page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, p page) {
	pg := s.pages[p.Page]
	buf := bytes.NewBuffer(make([]byte, 0, pg.size.Load()+4096))
	if err := pg.tmpl.ExecuteTemplate(buf, "layout", p); err != nil {
		s.fail(w, r, err)
		return
	}
	pg.size.Store(int64(buf.Len()))
	writePage(w, code, buf.Bytes())
}

// pageError turns an error of the Service into a status code and a
// message for a page: the request's fault says so, an unavailable
// database or storage says to retry, anything else is logged.
func (s *Server) pageError(r *http.Request, err error) (int, string) {
	switch {
	case errors.Is(err, strata.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, strata.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, strata.ErrUnavailable):
		return http.StatusServiceUnavailable, "The database or the storage is unavailable; retry in a moment."
	}
	s.log.Error("console", "request_id", requestID(r.Context()), "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "The page could not be read (see the server log, request " + requestID(r.Context()) + ")."
}

// visibleDatasets are the configured datasets r's token may see.
func (s *Server) visibleDatasets(r *http.Request) []string {
	var out []string
	for _, ds := range s.svc.Config().Datasets {
		if s.mayTouch(r.Context(), ds.Name) {
			out = append(out, ds.Name)
		}
	}
	return out
}

// handleOverview serves the overview: every visible dataset's figures,
// calendars and the integrity signals.
func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "overview", "Overview")
	names := s.visibleDatasets(r)
	if len(names) == 0 {
		p.Data = &overview.Report{Now: p.Now}
		s.render(w, r, http.StatusOK, p)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rep, err := s.svc.Overview(ctx, strata.OverviewRequest{Datasets: names})
	code := http.StatusOK
	if err != nil {
		code, p.Err = s.pageError(r, err)
	} else {
		p.Data, p.Now = rep, rep.Now
	}
	s.render(w, r, code, p)
}

// handleDay serves the day view: ?dataset=&type=&day=.
func (s *Server) handleDay(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ds, typ := q.Get("dataset"), q.Get("type")
	p := s.newPage(r, "day", ds+" "+typ+" "+q.Get("day"))
	day, err := time.Parse(time.DateOnly, q.Get("day"))
	if err != nil {
		err = badRequest("day %s: give a date as YYYY-MM-DD", quoteShort(q.Get("day")))
	} else if err = checkDataset(ds); err == nil {
		err = checkType("type", typ)
	}
	if err != nil {
		p.Page, p.Err = "overview", err.Error()
		s.render(w, r, http.StatusBadRequest, p)
		return
	}
	if err := s.requireDataset(r, ds); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	rep, err := s.svc.Day(ctx, strata.DayRequest{Dataset: ds, Type: typ, Day: day, SampleRows: sampleRows})
	if err != nil {
		code, msg := s.pageError(r, err)
		p.Page, p.Err = "overview", msg
		s.render(w, r, code, p)
		return
	}
	p.Data = rep
	s.render(w, r, http.StatusOK, p)
}

// handleScript serves the console's one script (arrow keys in the
// calendars), from the binary.
func (s *Server) handleScript(w http.ResponseWriter, r *http.Request) {
	js, err := consoleFS.ReadFile("console/console.js")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(js)
}

// jobsPage is the jobs view's data.
type jobsPage struct {
	Scheduler bool
	Jobs      []JobStatus
	Runs      []strata.OverviewRun
	RunsErr   string
	PerJob    int
}

// handleJobs serves the jobs view: the scheduler's jobs and the last runs
// the catalog records.
func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "jobs", "Jobs")
	d := &jobsPage{Scheduler: s.jobs != nil, PerJob: runsPerJob}
	if s.jobs != nil {
		for _, j := range s.jobs() {
			if s.mayTouch(r.Context(), j.Dataset) {
				d.Jobs = append(d.Jobs, j)
			}
		}
	}
	code := http.StatusOK
	if names := s.visibleDatasets(r); len(names) > 0 {
		if len(names) == len(s.svc.Config().Datasets) {
			names = nil // every dataset: the runs of none too (a verify of all)
		}
		ctx, cancel := s.requestContext(r)
		defer cancel()
		runs, err := s.svc.RecentRuns(ctx, names, runsPerJob)
		if err != nil {
			code, d.RunsErr = s.pageError(r, err)
		}
		d.Runs = runs
	}
	p.Data = d
	s.render(w, r, code, p)
}

// consoleFuncs are the templates' helpers; html/template escapes what
// they return unless it is template.HTML (calendar, bars: built with
// escaping of their own).
var consoleFuncs = template.FuncMap{
	"bytes":       units.Bytes,
	"when":        when,
	"num":         num,
	"date":        func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"dur":         dur,
	"took":        func(a, b time.Time) string { return tookText(a, b) },
	"addDays":     func(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) },
	"dayURL":      dayURL,
	"downloadURL": downloadURL,
	"otherType": func(t string) string {
		if t == catalog.TypeSource {
			return catalog.TypeAnalytics
		}
		return catalog.TypeSource
	},
	"objState":    objState,
	"base":        path.Base,
	"clip":        clip,
	"short":       short,
	"opt":         opt,
	"kv":          lineage.FormatKey,
	"others":      others,
	"calendar":    calendar,
	"bars":        bars,
	"lineageFrom": func(d overview.Dataset) string { return lineageDefault(d).Format(time.DateOnly) },
	"lineageTo":   func(now time.Time) string { return now.UTC().Format(time.DateOnly) },
}

// num prints n with groups of three digits: 1,234,567.
func num(n int64) string { return string(appendNum(nil, n)) }

// appendNum appends num(n) to b.
func appendNum(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		if n == math.MinInt64 {
			return append(b, "9,223,372,036,854,775,808"...)
		}
		n = -n
	}
	var digits [20]byte
	s := strconv.AppendInt(digits[:0], n, 10)
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

// dur prints a duration rounded for people.
func dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func tookText(a, b time.Time) string {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return "-"
	}
	return dur(b.Sub(a))
}

// dayURL is the day view of a day.
func dayURL(dataset, typ string, day time.Time) string {
	return "/console/day?dataset=" + dataset + "&type=" + typ + "&day=" + day.UTC().Format(time.DateOnly)
}

// downloadURL is the retrieval of a whole day in a format.
func downloadURL(dataset, typ string, day time.Time, format string) string {
	d := day.UTC().Format(time.DateOnly)
	return "/v1/datasets/" + dataset + "/archive/" + typ + "?from=" + d + "&to=" + d + "&format=" + format
}

// objState says what a catalog object is now.
func objState(o catalog.Object) string {
	switch {
	case o.State == catalog.StateExpired:
		return "expired (bytes deleted)"
	case o.State == catalog.StateRestored:
		return "restored into Layer 2"
	case o.SupersededBy != nil:
		return fmt.Sprintf("superseded by object %d", *o.SupersededBy)
	}
	return "current"
}

// clip shortens a long sample value.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// short is a transform version's first 12 characters.
func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

// opt prints an optional text value, NULL when absent.
func opt(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// others describes an archive's objects that retrievals do not read.
func others(a overview.Archive) string {
	var parts []string
	if a.Superseded > 0 {
		parts = append(parts, fmt.Sprintf("%d superseded", a.Superseded))
	}
	if a.Restored > 0 {
		parts = append(parts, fmt.Sprintf("%d restored", a.Restored))
	}
	if a.Expired > 0 {
		parts = append(parts, fmt.Sprintf("%d expired", a.Expired))
	}
	return strings.Join(parts, ", ")
}

// lineageDefault is the lineage form's first day: a week ago.
func lineageDefault(overview.Dataset) time.Time {
	return time.Now().UTC().AddDate(0, 0, -lineageDays)
}

// when prints a time for the console, or a dash when it is zero.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
