package server

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/evidence"
)

// lineagePage is the lineage view's data.
type lineagePage struct {
	Dataset, FromText, ToText string
	Err                       string
	Report                    *strata.LineageReport
	Graph                     template.HTML
	// Compared is set when compare was asked for (?compare=1).
	Compared   bool
	Compare    *strata.CompareReport
	CompareErr string
}

// handleLineagePage serves the lineage view: ?dataset=&from=&to= (dates
// or RFC 3339 times, as the API takes them), with compare=1 the compare
// of the period too (it changes nothing, but reads the period's records
// and rows: it runs only when asked).
func (s *Server) handleLineagePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := &lineagePage{Dataset: q.Get("dataset"), FromText: q.Get("from"), ToText: q.Get("to"), Compared: q.Get("compare") == "1"}
	p := s.newPage(r, "lineage", "Lineage of "+d.Dataset)
	p.Data = d
	if err := checkDataset(d.Dataset); err != nil {
		d.Err, d.Compared = err.Error(), false
		s.render(w, r, http.StatusBadRequest, p)
		return
	}
	if err := s.requireDataset(r, d.Dataset); err != nil {
		s.fail(w, r, err)
		return
	}
	from, to, err := parseRange(q, true)
	if err == nil && to.Sub(from) > s.limits.MaxSpan.Duration() {
		err = badRequest("the period from %s to %s is longer than server.max_span (%s): ask for a shorter one", d.FromText, d.ToText, s.limits.MaxSpan)
	}
	if err != nil {
		d.Err, d.Compared = err.Error(), false
		s.render(w, r, http.StatusBadRequest, p)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	code := http.StatusOK
	rep, err := s.svc.Lineage(ctx, strata.LineageRequest{Dataset: d.Dataset, From: from, To: to})
	if err != nil {
		code, d.Err = s.pageError(r, err)
		d.Compared = false
	} else {
		d.Report, d.Graph = rep, lineageGraph(rep)
	}
	if d.Compared {
		cmp, err := s.svc.Compare(ctx, strata.CompareRequest{Dataset: d.Dataset, From: from, To: to})
		if err != nil {
			_, d.CompareErr = s.pageError(r, err)
		}
		d.Compare = cmp
	}
	s.render(w, r, code, p)
}

// graphNode is one box of the lineage graph.
type graphNode struct {
	id, label, title string
	broken           bool
}

// graphCap bounds the nodes drawn per column; the rest are summed in one.
const graphCap = 30

// lineageGraph draws the evidence chain as inline SVG: four columns
// (source objects, batches, transform versions, analytics objects) and
// the links between them. A link to something the report does not hold,
// a batch whose objects do not hold its rows, or a version whose text is
// not recorded is drawn broken (red, dashed).
func lineageGraph(rep *strata.LineageReport) template.HTML {
	cols := [4][]graphNode{}
	index := map[string]int{} // node id -> column
	broken := map[string]bool{}
	add := func(c int, n graphNode) {
		if _, ok := index[n.id]; ok {
			return
		}
		index[n.id] = c
		broken[n.id] = n.broken
		cols[c] = append(cols[c], n)
	}
	for _, o := range rep.Source.Objects {
		add(0, objectNode(o))
	}
	for _, o := range rep.Analytics.Objects {
		add(3, objectNode(o))
	}
	for _, t := range rep.Transforms {
		add(2, graphNode{id: "t:" + t.Version, label: "transform " + short(t.Version), broken: !t.Recorded,
			title: fmt.Sprintf("transform %s: %d batches, %d records%s", t.Version, t.Batches, t.Records, map[bool]string{true: "", false: "; its text is not recorded"}[t.Recorded])})
	}
	type edge struct {
		from, to string
		broken   bool
	}
	var edges []edge
	link := func(from, to string) { // a link to or from a broken node is broken
		edges = append(edges, edge{from, to, broken[from] || broken[to]})
	}
	for _, b := range rep.Batches {
		id := fmt.Sprintf("b:%d", b.ID)
		broken := b.Layer3Rows > 0 && len(b.SourceObjects) > 0 && b.SourceObjectRows != b.Layer3Rows
		add(1, graphNode{id: id, label: fmt.Sprintf("%s #%d", b.Kind, b.ID), broken: broken,
			title: fmt.Sprintf("%s batch %d at %s: %d Layer 3 rows, %d rows in its source objects, %d Layer 2 rows written, %d archived",
				b.Kind, b.ID, b.At.UTC().Format(time.RFC3339), b.Layer3Rows, b.SourceObjectRows, b.Layer2RowsWritten, b.RowsArchived)})
		for _, k := range b.SourceObjects {
			ensure(add, index, 0, k)
			link("o:"+k, id)
		}
		if b.TransformVersion != "" {
			if _, ok := index["t:"+b.TransformVersion]; !ok {
				add(2, graphNode{id: "t:" + b.TransformVersion, label: "transform " + short(b.TransformVersion), broken: true,
					title: "transform " + b.TransformVersion + ": not in the report's versions"})
			}
			link(id, "t:"+b.TransformVersion)
		}
		for _, k := range b.AnalyticsObjects {
			ensure(add, index, 3, k)
			if b.TransformVersion == "" {
				link(id, "o:"+k)
			}
		}
	}
	for _, o := range rep.Analytics.Objects {
		if o.TransformVersion != "" {
			if _, ok := index["t:"+o.TransformVersion]; !ok {
				add(2, graphNode{id: "t:" + o.TransformVersion, label: "transform " + short(o.TransformVersion), broken: true,
					title: "transform " + o.TransformVersion + ": not in the report's versions"})
			}
			link("t:"+o.TransformVersion, "o:"+o.Key)
		}
	}
	out := make([]graphEdge, len(edges))
	for i, e := range edges {
		out[i] = graphEdge(e)
	}
	return drawGraph(cols, out)
}

// graphEdge links two nodes by id.
type graphEdge struct {
	from, to string
	broken   bool
}

// ensure adds a node for an object key a batch names that the report does
// not list: a broken link.
func ensure(add func(int, graphNode), index map[string]int, col int, key string) {
	if _, ok := index["o:"+key]; ok {
		return
	}
	add(col, graphNode{id: "o:" + key, label: baseKey(key), broken: true, title: key + ": named by a batch, not among the period's objects"})
}

func objectNode(o evidence.Object) graphNode {
	title := fmt.Sprintf("%s: %s, %d rows, %d bytes, sha256 %s", o.Key, o.State, o.Rows, o.Bytes, o.SHA256)
	if o.SupersededBy != "" {
		title += ", superseded by " + o.SupersededBy
	}
	broken := o.Verified == "mismatch" || o.Verified == "missing"
	return graphNode{id: "o:" + o.Key, label: o.Day + " " + baseKey(o.Key), title: title, broken: broken}
}

func baseKey(k string) string {
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[i+1:]
	}
	return k
}

// drawGraph lays the columns out left to right and draws the edges.
func drawGraph(cols [4][]graphNode, edges []graphEdge) template.HTML {
	const colW, nodeW, nodeH, gap, top = 250, 220, 24, 8, 28
	heads := [4]string{"source objects", "batches", "transform versions", "analytics objects"}
	pos := map[string][2]int{}
	rows := 0
	var nodes strings.Builder
	for c, ns := range cols {
		shown := ns
		if len(ns) > graphCap {
			shown = ns[:graphCap]
		}
		for i, n := range shown {
			x, y := c*colW, top+i*(nodeH+gap)
			pos[n.id] = [2]int{x, y}
			cls := "node"
			if n.broken {
				cls += " broken"
			}
			fmt.Fprintf(&nodes, `<g class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><text x="%d" y="%d">%s</text></g>`,
				cls, template.HTMLEscapeString(n.title), x, y, nodeW, nodeH, x+6, y+16, template.HTMLEscapeString(clipTo(n.label, 32)))
		}
		if len(ns) > graphCap {
			y := top + graphCap*(nodeH+gap)
			fmt.Fprintf(&nodes, `<text x="%d" y="%d" class="more">… and %d more</text>`, c*colW+6, y+16, len(ns)-graphCap)
			shown = append(shown, graphNode{})
		}
		rows = max(rows, len(shown))
	}
	var b strings.Builder
	h := top + max(rows, 1)*(nodeH+gap)
	fmt.Fprintf(&b, `<svg class="lineage" role="img" aria-label="lineage graph" viewBox="0 0 %d %d" width="%d" height="%d">`, 4*colW, h, 4*colW, h)
	for c, t := range heads {
		fmt.Fprintf(&b, `<text x="%d" y="16" font-weight="700">%s (%d)</text>`, c*colW, t, len(cols[c]))
	}
	for _, e := range edges {
		a, okA := pos[e.from]
		z, okZ := pos[e.to]
		if !okA || !okZ {
			continue
		}
		cls := "edge"
		if e.broken {
			cls += " broken"
		}
		x1, y1, x2, y2 := a[0]+nodeW, a[1]+nodeH/2, z[0], z[1]+nodeH/2
		fmt.Fprintf(&b, `<path class="%s" d="M%d %d C%d %d %d %d %d %d"/>`, cls, x1, y1, (x1+x2)/2, y1, (x1+x2)/2, y2, x2, y2)
	}
	b.WriteString(nodes.String())
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// clipTo shortens s to at most n bytes on a rune boundary.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
