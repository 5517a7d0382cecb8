package server

import (
	"errors"
	"net/http"
	"time"

	strata "github.com/stratahq/strata"
)

// ingestAnswer is the JSON answer to an ingest.
type ingestAnswer struct {
	Dataset string `json:"dataset"`
	// Records were stored, archived and transformed; Received were read.
	Records  int64 `json:"records"`
	Received int64 `json:"received"`
	Batches  int   `json:"batches"`
	// Bytes are the records' payload bytes.
	Bytes   int64          `json:"bytes"`
	Objects []ingestObject `json:"objects"`
	// Quarantined counts the stored records that the transform could not
	// map (source.on_transform_error quarantine); QuarantinedRecords names
	// them by line with the database's error.
	Quarantined        int                  `json:"quarantined"`
	QuarantinedRecords []strata.RecordError `json:"quarantined_records,omitempty"`
	// Replayed: the first answer to this Idempotency-Key; nothing was
	// stored this time.
	Replayed bool `json:"replayed,omitempty"`
}

// ingestObject is one source batch object written.
type ingestObject struct {
	Day   string `json:"day"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	Key   string `json:"key"`
}

// handleIngest stores raw records: POST /v1/datasets/{dataset}/records with
// a JSON array of objects or JSON lines as the body.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	ds := r.PathValue("dataset")
	if err := checkDataset(ds); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := query(r.URL.RawQuery); err != nil {
		s.fail(w, r, err)
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		s.fail(w, r, &apiError{code: http.StatusUnsupportedMediaType,
			msg: "Content-Encoding " + quoteShort(ce) + " is not supported: send the records uncompressed"})
		return
	}
	limit := s.limits.MaxBodyBytes
	if r.ContentLength > limit {
		s.fail(w, r, &http.MaxBytesError{Limit: limit})
		return
	}
	opts := strata.IngestOptions{IdempotencyKey: r.Header.Get("Idempotency-Key")}
	rep, err := s.svc.IngestWith(r.Context(), ds, http.MaxBytesReader(w, r.Body, limit), opts)
	s.countIngest(ds, rep, err)
	if err != nil {
		e := s.classify(r, err)
		if rep.Records > 0 { // whole batches before the failure stay stored
			e = &apiError{code: e.code, msg: e.msg, retryAfter: e.retryAfter, detail: map[string]any{
				"records_stored": rep.Records, "batches_stored": rep.Batches, "received": rep.Received}}
		}
		s.fail(w, r, withCause(e, err))
		return
	}
	writeJSON(w, http.StatusOK, answerOf(ds, rep))
}

// countIngest updates the metrics of an ingest.
func (s *Server) countIngest(ds string, rep strata.IngestReport, err error) {
	if rep.Records > 0 && !rep.Replayed {
		s.metrics.Ingested(ds, rep.Records, rep.Bytes)
		var objBytes, objRows int64
		for _, o := range rep.Objects {
			objBytes, objRows = objBytes+o.Bytes, objRows+o.Rows
		}
		share := 1.0 // this request's part of objects shared with others (group commit)
		if objRows > rep.Records {
			share = float64(rep.Records) / float64(objRows)
		}
		s.metrics.ArchivedShare(ds, "source", rep.Records, share*float64(objBytes), share*float64(len(rep.Objects)))
	}
	s.metrics.TransformFailed(ds, "quarantined", int64(len(rep.QuarantinedRecords)))
	if re := (*strata.RejectedError)(nil); errors.As(err, &re) {
		s.metrics.TransformFailed(ds, "rejected", int64(len(re.Records)))
	}
}

// answerOf turns an ingest report into its JSON answer.
func answerOf(ds string, rep strata.IngestReport) ingestAnswer {
	a := ingestAnswer{Dataset: ds, Records: rep.Records, Received: rep.Received, Batches: rep.Batches,
		Bytes: rep.Bytes, Objects: make([]ingestObject, len(rep.Objects)), Replayed: rep.Replayed,
		Quarantined: len(rep.QuarantinedRecords), QuarantinedRecords: rep.QuarantinedRecords}
	for i, o := range rep.Objects {
		a.Objects[i] = ingestObject{Day: o.Day.UTC().Format(time.DateOnly), Rows: o.Rows, Bytes: o.Bytes, Key: o.Key}
	}
	return a
}
