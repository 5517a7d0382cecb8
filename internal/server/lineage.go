package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/transform"
)

// Routes of compare and replay.
const (
	routeCompare = "POST /v1/datasets/{dataset}/compare"
	routeReplay  = "POST /v1/datasets/{dataset}/replay"
)

// maxPeriodBody bounds the JSON body of a compare or replay: a few fields
// and a candidate transform of at most transform.MaxSize bytes, which JSON
// escaping may double.
const maxPeriodBody = 4096 + 2*transform.MaxSize

// maxTransformName bounds the label of a candidate transform.
const maxTransformName = 200

// periodBody is the body of compare and of replay: {"from":..,"to":..},
// optionally a candidate transform's SQL and label, and, for replay,
// "apply".
type periodBody struct {
	From          string  `json:"from"`
	To            string  `json:"to"`
	Apply         *bool   `json:"apply,omitempty"`
	Transform     *string `json:"transform,omitempty"`
	TransformName string  `json:"transform_name,omitempty"`
}

// lineageRequest is a checked compare or replay request.
type lineageRequest struct {
	dataset  string
	from, to time.Time
	apply    bool
	// transform and name are a candidate transform and its label.
	transform, name string
}

// handleCompare compares a period's transformed records with the analytics
// rows: POST /v1/datasets/{dataset}/compare {"from":..,"to":..} (and
// "transform": a candidate's SQL). It answers 200 with the report whether
// or not they agree (see "agree").
func (s *Server) handleCompare(w http.ResponseWriter, r *http.Request) {
	q, err := s.periodRequest(w, r, false)
	if err == nil && q.transform != "" {
		err = s.requireScope(r, auth.Replay, "compare with a candidate transform (SQL of the client's, run as Strata's database role)")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.svc.Compare(r.Context(), strata.CompareRequest{Dataset: q.dataset, From: q.from, To: q.to,
		Transform: q.transform, TransformName: q.name})
	s.answerReport(w, r, rep, err)
}

// handleReplay re-runs the transform over a period's records: POST
// /v1/datasets/{dataset}/replay {"from":..,"to":..,"apply":false} (and
// "transform": a candidate's SQL, adopted for the period with apply).
// Without apply it changes nothing.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	q, err := s.periodRequest(w, r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.svc.Replay(r.Context(), strata.ReplayRequest{Dataset: q.dataset, From: q.from, To: q.to, Apply: q.apply,
		Transform: q.transform, TransformName: q.name})
	s.answerReport(w, r, rep, err)
}

// periodRequest validates the dataset, the (empty) query and the JSON body.
func (s *Server) periodRequest(w http.ResponseWriter, r *http.Request, replay bool) (q lineageRequest, err error) {
	q.dataset = r.PathValue("dataset")
	if err = checkDataset(q.dataset); err != nil {
		return q, err
	}
	if _, err = query(r.URL.RawQuery); err != nil {
		return q, err
	}
	b, err := decodePeriodBody(w, r, replay)
	if err != nil {
		return q, err
	}
	if b.Apply != nil {
		if !replay {
			return q, badRequest(`body: "apply" is for replay; compare changes nothing`)
		}
		q.apply = *b.Apply
	}
	if q.transform, q.name, err = candidateOf(b); err != nil {
		return q, err
	}
	if b.From == "" || b.To == "" {
		return q, badRequest("from and to are required: RFC 3339 times (2024-11-01T00:00:00Z) or dates (2024-11-01), e.g. %s", bodyExample(replay))
	}
	if q.from, err = parseTime("from", b.From, false); err != nil {
		return q, err
	}
	if q.to, err = parseTime("to", b.To, true); err != nil {
		return q, err
	}
	if q.to.Before(q.from) {
		return q, badRequest("to %s is before from %s", q.to.Format(time.RFC3339Nano), q.from.Format(time.RFC3339Nano))
	}
	return q, nil
}

// decodePeriodBody reads the one JSON object of the body, bounded.
func decodePeriodBody(w http.ResponseWriter, r *http.Request, replay bool) (periodBody, error) {
	var b periodBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPeriodBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return b, badRequest("the body is over %d bytes: send {\"from\": ..., \"to\": ...} and at most a %d-byte \"transform\"", maxPeriodBody, transform.MaxSize)
		}
		return b, badRequest("body: %v (send a JSON object such as %s)", err, bodyExample(replay))
	}
	if _, err := dec.Token(); err != io.EOF {
		return b, badRequest("body: one JSON object only, such as %s", bodyExample(replay))
	}
	return b, nil
}

// candidateOf returns the candidate transform of the body and its label
// ("HTTP request" when none is given); the service checks the SQL.
func candidateOf(b periodBody) (sql, name string, err error) {
	if b.Transform == nil {
		if b.TransformName != "" {
			return "", "", badRequest(`body: "transform_name" labels a candidate "transform", which is missing`)
		}
		return "", "", nil
	}
	if strings.TrimSpace(*b.Transform) == "" {
		return "", "", badRequest(`body: "transform" is empty: send the candidate transform's SQL (one SELECT ... FROM {{source}} AS r), or leave the field out to run the configured one`)
	}
	name = b.TransformName
	if len(name) > maxTransformName || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", "", badRequest(`body: "transform_name" must be at most %d printable characters (a label such as a file name)`, maxTransformName)
	}
	if name == "" {
		name = "HTTP request"
	}
	return *b.Transform, name, nil
}

func bodyExample(replay bool) string {
	if replay {
		return `{"from": "2024-11-01", "to": "2024-11-07", "apply": false}`
	}
	return `{"from": "2024-11-01", "to": "2024-11-07"}`
}

// answerReport writes the report, or the error: a dataset that another
// process holds for too long is 409.
func (s *Server) answerReport(w http.ResponseWriter, r *http.Request, rep *strata.CompareReport, err error) {
	switch {
	case errors.Is(err, strata.ErrBusy):
		s.fail(w, r, withCause(&apiError{code: http.StatusConflict, msg: clientMessage(err)}, err))
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, rep)
	}
}
