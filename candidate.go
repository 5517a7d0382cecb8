package strata

import (
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/lineage"
	"github.com/stratahq/strata/internal/transform"
)

// candidateSpec puts the candidate transform req.Transform in spec, in
// place of the configured one, which stays as it is: checked as a
// transform file is, and described (its name, the configured version) for
// the report and the lineage record of an apply.
func (s *Service) candidateSpec(spec lineage.Spec, ds *config.Dataset, req ReplayRequest) (lineage.Spec, error) {
	name := req.TransformName
	if name == "" {
		name = "request"
	}
	cand, err := transform.Parse(req.Transform)
	if err != nil {
		return spec, invalid("candidate transform %s: %v", name, err)
	}
	if spec.Transform != nil && cand.Version() == spec.Transform.Version() {
		return spec, nil // the configured transform's very text: no candidate
	}
	c := &lineage.Candidate{Name: name, ConfiguredPath: s.cfg.TransformPath(ds)}
	if spec.Transform != nil {
		c.ConfiguredVersion = spec.Transform.Version()
	}
	spec.Transform, spec.Candidate = cand, c
	return spec, nil
}
