package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	strata "github.com/stratahq/strata"
)

// Routes of compare and replay.
const (
	routeCompare = "POST /v1/datasets/{dataset}/compare"
	routeReplay  = "POST /v1/datasets/{dataset}/replay"
)

// maxPeriodBody bounds the JSON body of a compare or replay.
const maxPeriodBody = 4096

// periodBody is the body of compare and of replay: {"from":..,"to":..}
// and, for replay, "apply".
type periodBody struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Apply *bool  `json:"apply,omitempty"`
}

// handleCompare compares a period's transformed records with the analytics
// rows: POST /v1/datasets/{dataset}/compare {"from":..,"to":..}. It answers
// 200 with the report whether or not they agree (see "agree").
func (s *Server) handleCompare(w http.ResponseWriter, r *http.Request) {
	ds, from, to, _, err := s.periodRequest(w, r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.svc.Compare(r.Context(), strata.CompareRequest{Dataset: ds, From: from, To: to})
	s.answerReport(w, r, rep, err)
}

// handleReplay re-runs the transform over a period's records: POST
// /v1/datasets/{dataset}/replay {"from":..,"to":..,"apply":false}. Without
// apply it changes nothing.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	ds, from, to, apply, err := s.periodRequest(w, r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep, err := s.svc.Replay(r.Context(), strata.ReplayRequest{Dataset: ds, From: from, To: to, Apply: apply})
	s.answerReport(w, r, rep, err)
}

// periodRequest validates the dataset, the (empty) query and the JSON body.
func (s *Server) periodRequest(w http.ResponseWriter, r *http.Request, replay bool) (ds string, from, to time.Time, apply bool, err error) {
	ds = r.PathValue("dataset")
	if err = checkDataset(ds); err != nil {
		return
	}
	if _, err = query(r.URL.RawQuery); err != nil {
		return
	}
	var b periodBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPeriodBody))
	dec.DisallowUnknownFields()
	if derr := dec.Decode(&b); derr != nil {
		var mbe *http.MaxBytesError
		if errors.As(derr, &mbe) {
			err = badRequest("the body is over %d bytes: send {\"from\": ..., \"to\": ...}", maxPeriodBody)
			return
		}
		err = badRequest("body: %v (send a JSON object such as %s)", derr, bodyExample(replay))
		return
	}
	if _, derr := dec.Token(); derr != io.EOF {
		err = badRequest("body: one JSON object only, such as %s", bodyExample(replay))
		return
	}
	if b.Apply != nil {
		if !replay {
			err = badRequest(`body: "apply" is for replay; compare changes nothing`)
			return
		}
		apply = *b.Apply
	}
	if b.From == "" || b.To == "" {
		err = badRequest("from and to are required: RFC 3339 times (2024-11-01T00:00:00Z) or dates (2024-11-01), e.g. %s", bodyExample(replay))
		return
	}
	if from, err = parseTime("from", b.From, false); err != nil {
		return
	}
	if to, err = parseTime("to", b.To, true); err != nil {
		return
	}
	if to.Before(from) {
		err = badRequest("to %s is before from %s", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	return
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
