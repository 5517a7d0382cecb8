package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	strata "github.com/stratahq/strata"
)

// Routes of erasure (admin actions).
const (
	routeErase      = "POST /v1/datasets/{dataset}/erasures"
	routeEraseList  = "GET /v1/erasures"
	routeEraseShow  = "GET /v1/erasures/{id}"
	maxEraseBody    = 8 << 10
	eraseBodyFormat = `{"subject": "1042", "reason": "GDPR request #311", "dry_run": true}`
)

// eraseBody is the body of an erasure request.
type eraseBody struct {
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
	DryRun  bool   `json:"dry_run"`
}

// handleErase erases a data subject: POST /v1/datasets/{dataset}/erasures
// {"subject":..,"reason":..,"dry_run":false}. It answers 200 with the
// certificate, or 409 with the certificate of the refusal in detail.
func (s *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	dataset := r.PathValue("dataset")
	if err := checkDataset(dataset); err != nil {
		s.fail(w, r, err)
		return
	}
	var b eraseBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEraseBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.Decode(new(json.RawMessage)) != io.EOF {
		s.fail(w, r, badRequest("body: want one JSON object such as %s", eraseBodyFormat))
		return
	}
	cert, err := s.svc.Erase(r.Context(), strata.EraseRequest{Dataset: dataset, Subject: b.Subject, Reason: b.Reason, DryRun: b.DryRun})
	var refused *strata.ErasureRefused
	if errors.As(err, &refused) {
		writeError(w, r, &apiError{code: http.StatusConflict, msg: clientMessage(err), detail: refused.Certificate})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cert)
}

// handleEraseList lists erasures and pending deletions: GET
// /v1/erasures?dataset=.
func (s *Server) handleEraseList(w http.ResponseWriter, r *http.Request) {
	dataset := r.URL.Query().Get("dataset")
	if dataset != "" {
		err := checkDataset(dataset)
		if err == nil {
			err = s.requireDataset(r, dataset)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	l, err := s.svc.EraseList(r.Context(), dataset)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// without ?dataset=, only the token's datasets
	erasures, pending := l.Erasures[:0], l.Pending[:0]
	for _, e := range l.Erasures {
		if s.mayTouch(r.Context(), e.Dataset) {
			erasures = append(erasures, e)
		}
	}
	for _, d := range l.Pending {
		if s.mayTouch(r.Context(), d.Dataset) {
			pending = append(pending, d)
		}
	}
	l.Erasures, l.Pending = erasures, pending
	writeJSON(w, http.StatusOK, l)
}

// handleEraseShow answers an erasure's certificate: GET /v1/erasures/{id}.
func (s *Server) handleEraseShow(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, badRequest("erasure id %q: give a positive number (GET /v1/erasures lists them)", truncate(r.PathValue("id"), 40)))
		return
	}
	cert, err := s.svc.EraseShow(r.Context(), id)
	if err == nil {
		err = s.requireDataset(r, cert.Dataset)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cert)
}
