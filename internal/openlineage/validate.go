package openlineage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Validate checks one event, as JSON, against what the OpenLineage spec
// requires of a RunEvent: eventType one of the spec's values, eventTime an
// RFC 3339 time, run.runId a UUID, job.namespace and job.name, producer and
// schemaURL absolute URIs, namespace and name on every dataset, and
// _producer and _schemaURL on every facet. It returns every problem found,
// joined, or nil. Strata's tests run it on every event Strata writes; it is
// no substitute for the full JSON Schema, which it does not load.
func Validate(event []byte) error {
	var ev struct {
		EventType *string `json:"eventType"`
		EventTime *string `json:"eventTime"`
		Run       *struct {
			RunID  string                     `json:"runId"`
			Facets map[string]json.RawMessage `json:"facets"`
		} `json:"run"`
		Job *struct {
			Namespace string                     `json:"namespace"`
			Name      string                     `json:"name"`
			Facets    map[string]json.RawMessage `json:"facets"`
		} `json:"job"`
		Inputs    []datasetJSON `json:"inputs"`
		Outputs   []datasetJSON `json:"outputs"`
		Producer  string        `json:"producer"`
		SchemaURL string        `json:"schemaURL"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case ev.EventType == nil:
		// optional in the spec; Strata always sets it, so its absence is a bug
		bad("eventType is missing")
	case !validEventType(*ev.EventType):
		bad("eventType %q is not START, RUNNING, COMPLETE, ABORT, FAIL or OTHER", *ev.EventType)
	}
	if ev.EventTime == nil {
		bad("eventTime is missing")
	} else if _, err := time.Parse(time.RFC3339Nano, *ev.EventTime); err != nil {
		bad("eventTime %q is not an RFC 3339 time", *ev.EventTime)
	}
	if ev.Run == nil || !uuidPattern.MatchString(ev.Run.RunID) {
		bad("run.runId is missing or not a lower-case UUID")
	} else {
		errs = append(errs, checkFacets("run", ev.Run.Facets)...)
	}
	if ev.Job == nil || ev.Job.Namespace == "" || ev.Job.Name == "" {
		bad("job.namespace and job.name are required")
	} else {
		errs = append(errs, checkFacets("job", ev.Job.Facets)...)
	}
	for i, d := range ev.Inputs {
		errs = append(errs, d.check(fmt.Sprintf("inputs[%d]", i), "inputFacets")...)
	}
	for i, d := range ev.Outputs {
		errs = append(errs, d.check(fmt.Sprintf("outputs[%d]", i), "outputFacets")...)
	}
	if !absoluteURI(ev.Producer) {
		bad("producer %q is not an absolute URI", ev.Producer)
	}
	if !absoluteURI(ev.SchemaURL) {
		bad("schemaURL %q is not an absolute URI", ev.SchemaURL)
	}
	return errors.Join(errs...)
}

type datasetJSON struct {
	Namespace    string                     `json:"namespace"`
	Name         string                     `json:"name"`
	Facets       map[string]json.RawMessage `json:"facets"`
	InputFacets  map[string]json.RawMessage `json:"inputFacets"`
	OutputFacets map[string]json.RawMessage `json:"outputFacets"`
}

func (d datasetJSON) check(where, ioFacets string) []error {
	var errs []error
	if d.Namespace == "" || d.Name == "" {
		errs = append(errs, fmt.Errorf("%s: namespace and name are required", where))
	}
	errs = append(errs, checkFacets(where, d.Facets)...)
	errs = append(errs, checkFacets(where+"."+ioFacets, d.InputFacets)...)
	return append(errs, checkFacets(where+"."+ioFacets, d.OutputFacets)...)
}

func checkFacets(where string, facets map[string]json.RawMessage) []error {
	var errs []error
	for name, raw := range facets {
		var base struct {
			Producer  string `json:"_producer"`
			SchemaURL string `json:"_schemaURL"`
		}
		if err := json.Unmarshal(raw, &base); err != nil {
			errs = append(errs, fmt.Errorf("%s facet %q is not an object", where, name))
			continue
		}
		if !absoluteURI(base.Producer) || !absoluteURI(base.SchemaURL) {
			errs = append(errs, fmt.Errorf("%s facet %q needs _producer and _schemaURL URIs", where, name))
		}
	}
	return errs
}

func validEventType(t string) bool {
	switch t {
	case "START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER":
		return true
	}
	return false
}

func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "")
}
