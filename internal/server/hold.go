package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/hold"
)

// Routes of legal holds.
const (
	routeHoldAdd     = "POST /v1/holds"
	routeHoldList    = "GET /v1/holds"
	routeHoldRelease = "POST /v1/holds/{id}/release"
)

// maxHoldBody bounds a hold's JSON body: a few fields and a reason of at
// most hold.MaxReason characters (4 bytes each, escaping may double).
const maxHoldBody = 1024 + 8*hold.MaxReason

const holdExample = `{"dataset": "orders", "type": "analytics", "from": "2024-11-01", "to": "2024-11-30", "reason": "case 24-117"}`

// holdBody is the body of POST /v1/holds and of a release (reason only).
type holdBody struct {
	Dataset string `json:"dataset"`
	Type    string `json:"type"`
	From    string `json:"from"`
	To      string `json:"to"`
	Reason  string `json:"reason"`
}

// withActor makes the request's actor the client, unless something before
// (token authentication) named one already.
func withActor(r *http.Request) *http.Request {
	if actor.From(r.Context()).Via == actor.ViaHTTP {
		return r
	}
	return r.WithContext(actor.With(r.Context(), actor.Actor{Name: "anonymous", Via: actor.ViaHTTP, Addr: r.RemoteAddr}))
}

// handleHoldAdd places a legal hold: POST /v1/holds with holdExample's
// fields; 201 with the hold.
func (s *Server) handleHoldAdd(w http.ResponseWriter, r *http.Request) {
	b, err := decodeHoldBody(w, r, holdExample)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req := strata.HoldRequest{Dataset: b.Dataset, Type: b.Type, Reason: b.Reason}
	err = checkDataset(b.Dataset)
	if err == nil {
		err = s.requireDataset(r, b.Dataset)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b.From == "" || b.To == "" {
		s.fail(w, r, badRequest("from and to are required: RFC 3339 times or dates, e.g. %s", holdExample))
		return
	}
	if req.From, err = parseTime("from", b.From, false); err == nil {
		req.To, err = parseTime("to", b.To, true)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, err := s.svc.AddHold(withActor(r).Context(), req)
	if err != nil && h.ID == 0 {
		s.fail(w, r, err)
		return
	}
	if err != nil { // in force in Strata; the storage flags lag
		s.log.Error("hold placed, storage legal holds not yet in line", "hold", h.ID, "err", err)
	}
	writeJSON(w, http.StatusCreated, h)
}

// handleHoldList lists holds: GET /v1/holds[?dataset=N][&all=true].
func (s *Server) handleHoldList(w http.ResponseWriter, r *http.Request) {
	q, err := query(r.URL.RawQuery, "dataset", "all")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := strata.HoldFilter{Dataset: q.Get("dataset")}
	if f.Dataset != "" {
		err = checkDataset(f.Dataset)
		if err == nil {
			err = s.requireDataset(r, f.Dataset)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if a := q.Get("all"); a != "" {
		if f.All, err = parseBool("all", a); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	hs, err := s.svc.ListHolds(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hs = slices.DeleteFunc(hs, func(h strata.Hold) bool { return !s.mayTouch(r.Context(), h.Dataset) })
	if hs == nil {
		hs = []strata.Hold{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"holds": hs})
}

// handleHoldRelease releases a hold: POST /v1/holds/{id}/release
// {"reason": ...}; 200 with the hold.
func (s *Server) handleHoldRelease(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, badRequest("hold id %s: a positive number, as GET /v1/holds shows", quoteShort(r.PathValue("id"))))
		return
	}
	b, err := decodeHoldBody(w, r, `{"reason": "case settled"}`)
	if err == nil && (b.Dataset != "" || b.Type != "" || b.From != "" || b.To != "") {
		err = badRequest(`body: a release takes only "reason"`)
	}
	if err == nil {
		err = s.requireHoldDataset(r, id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, err := s.svc.ReleaseHold(withActor(r).Context(), id, b.Reason)
	if err != nil && (h.ID == 0 || h.Released == nil || errors.Is(err, strata.ErrConflict)) {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		s.log.Error("hold released, storage legal holds not yet in line", "hold", h.ID, "err", err)
	}
	writeJSON(w, http.StatusOK, h)
}

// requireHoldDataset refuses (403) the release of a hold on a dataset the
// token may not touch. A hold that does not exist is left to ReleaseHold
// (404).
func (s *Server) requireHoldDataset(r *http.Request, id int64) error {
	if !s.tokens.Enabled() {
		return nil
	}
	hs, err := s.svc.ListHolds(r.Context(), strata.HoldFilter{All: true})
	if err != nil {
		return err
	}
	for _, h := range hs {
		if h.ID == id {
			return s.requireDataset(r, h.Dataset)
		}
	}
	return nil
}

// decodeHoldBody reads the one JSON object of the body, bounded, unknown
// fields refused.
func decodeHoldBody(w http.ResponseWriter, r *http.Request, example string) (holdBody, error) {
	var b holdBody
	if _, err := query(r.URL.RawQuery); err != nil {
		return b, err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxHoldBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return b, badRequest("the body is over %d bytes: the reason holds at most %d characters", maxHoldBody, hold.MaxReason)
		}
		return b, badRequest("body: %v (send a JSON object such as %s)", err, example)
	}
	if _, err := dec.Token(); err != io.EOF {
		return b, badRequest("body: one JSON object only, such as %s", example)
	}
	return b, nil
}

// held is the answer to an action refused by a legal hold: 409, naming
// the holds and the objects.
func held(he *hold.HeldError) *apiError {
	return &apiError{code: http.StatusConflict, msg: he.Error(),
		detail: map[string]any{"action": he.Action, "holds": he.Holds, "objects": he.Objects}}
}
