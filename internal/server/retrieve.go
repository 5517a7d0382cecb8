package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	strata "github.com/stratahq/strata"
)

// contentTypes are the retrieval formats and their media types.
var contentTypes = map[string]string{
	"jsonl":   "application/x-ndjson",
	"csv":     "text/csv; charset=utf-8",
	"parquet": "application/vnd.apache.parquet",
}

// retrieval is a validated retrieval request.
type retrieval struct {
	req    strata.RetrieveRequest
	format string
}

// handleRetrieve streams archived rows: GET
// /v1/datasets/{dataset}/archive/{type}?from=&to=&columns=&where=&format=&include_live=
func (s *Server) handleRetrieve(w http.ResponseWriter, r *http.Request) {
	q, err := s.parseRetrieval(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	start := time.Now()
	rows, err := s.svc.RetrieveArchivedData(r.Context(), q.req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rows.Close()
	if err := s.checkResultSize(r.Context(), q.req, rows); err != nil {
		s.fail(w, r, err)
		return
	}
	setRetrievalHeaders(w.Header(), q, rows.Objects())
	cw := &countingWriter{w: w}
	n, err := rows.Write(cw, q.format)
	s.metrics.Retrieved(q.req.Table, q.req.DataType, n, time.Since(start))
	if err == nil && n > s.limits.MaxResultRows {
		err = strata.ErrTooManyRows // the Service's limit did not stop it
	}
	if err == nil {
		return
	}
	if cw.n == 0 {
		s.fail(w, r, err) // nothing sent yet: a proper error answer
		return
	}
	s.log.Error("retrieval failed mid-stream; response aborted", "request_id", requestID(r.Context()),
		"dataset", q.req.Table, "type", q.req.DataType, "rows_sent", n, "bytes_sent", cw.n, "err", err)
	s.metrics.Error("retrieve")
	panic(http.ErrAbortHandler) // the client sees a broken body, never a short 200
}

// setRetrievalHeaders describes a retrieval's answer.
func setRetrievalHeaders(h http.Header, q retrieval, objects int) {
	h.Set("Content-Type", contentTypes[q.format])
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Strata-Objects", strconv.Itoa(objects))
	if q.format == "parquet" {
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.parquet"`, q.req.Table, q.req.DataType))
	}
}

// parseRetrieval validates the path and query of a retrieval.
func (s *Server) parseRetrieval(r *http.Request) (retrieval, error) {
	var q retrieval
	ds, typ := r.PathValue("dataset"), r.PathValue("type")
	if err := checkDataset(ds); err != nil {
		return q, err
	}
	if err := checkType("archive type", typ); err != nil {
		return q, err
	}
	v, err := query(r.URL.RawQuery, "from", "to", "columns", "where", "format", "include_live")
	if err != nil {
		return q, err
	}
	q.req = strata.RetrieveRequest{Table: ds, DataType: typ, MaxRows: s.limits.MaxResultRows + 1}
	if q.req.Start, q.req.End, err = parseRange(v, true); err != nil {
		return q, err
	}
	if span := q.req.End.Sub(q.req.Start); span > s.limits.MaxSpan.Duration() {
		return q, badRequest("the range from %s to %s is longer than server.max_span (%s): ask for a shorter range",
			v.Get("from"), v.Get("to"), s.limits.MaxSpan)
	}
	if q.req.Columns, err = parseColumns(v.Get("columns")); err != nil {
		return q, err
	}
	if q.req.Where = v.Get("where"); len(q.req.Where) > maxWhereBytes {
		return q, badRequest("where is %d bytes long, over %d", len(q.req.Where), maxWhereBytes)
	}
	if q.req.IncludeLive, err = parseBool("include_live", v.Get("include_live")); err != nil {
		return q, err
	}
	if q.format = v.Get("format"); q.format == "" {
		q.format = "jsonl"
	}
	if _, ok := contentTypes[q.format]; !ok {
		return q, badRequest("format %s: use jsonl, csv or parquet", quoteShort(q.format))
	}
	return q, nil
}

// checkResultSize answers 413 before streaming when the result is sure to
// be over server.max_result_rows. Rows.ArchivedRowsAtMost is an upper
// bound (objects may straddle the range); the objects wholly inside the
// range give a lower bound, and only that proves the result too large.
// Live rows only add to it; a where filter makes any bound unknown, so the
// stream's own limit decides then.
func (s *Server) checkResultSize(ctx context.Context, req strata.RetrieveRequest, rows *strata.Rows) error {
	limit := s.limits.MaxResultRows
	if rows.ArchivedRowsAtMost() <= limit || req.Where != "" {
		return nil
	}
	objs, err := s.svc.ListCatalog(ctx, strata.CatalogFilter{Dataset: req.Table, Type: req.DataType, From: req.Start, To: req.End})
	if err != nil {
		return err
	}
	var atLeast int64
	for _, o := range objs {
		if o.MinTime != nil && o.MaxTime != nil && !o.MinTime.Before(req.Start) && !o.MaxTime.After(req.End) {
			atLeast += o.Rows
		}
	}
	if atLeast > limit {
		return s.tooManyRows()
	}
	return nil
}

// countingWriter counts the bytes that reached the client's writer.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
