package failpoint

import (
	"errors"
	"testing"
)

func TestActionAtTheNthHitOnly(t *testing.T) {
	s, err := Parse("after-verify=error@3,after-intent=error")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, false, true, false} {
		if err := s.Hit("after-verify"); errors.Is(err, ErrInjected) != want {
			t.Errorf("hit %d of after-verify: %v, want injected %v", i+1, err, want)
		}
	}
	if err := s.Hit("after-intent"); !errors.Is(err, ErrInjected) {
		t.Errorf("first hit of after-intent: %v, want injected", err)
	}
	if err := s.Hit("after-intent"); err != nil {
		t.Errorf("second hit of after-intent: %v, want nothing", err)
	}
	if got := s.String(); got != "after-intent=error,after-verify=error@3" {
		t.Errorf("String() = %q", got)
	}
}

func TestActionAtEveryHit(t *testing.T) {
	s, err := Parse("after-verify=error@every")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Hit("after-verify"); !errors.Is(err, ErrInjected) {
			t.Errorf("hit %d of after-verify: %v, want injected", i+1, err)
		}
	}
	if err := s.Hit("after-intent"); err != nil {
		t.Errorf("after-intent, not set: %v, want nothing", err)
	}
	if got := s.String(); got != "after-verify=error@every" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseRefusesABadHitNumber(t *testing.T) {
	for _, spec := range []string{"after-verify=kill@0", "after-verify=kill@x", "after-verify=kill@", "after-verify=kill@Every", "nowhere=kill"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted it", spec)
		}
	}
}

func TestTheZeroSetDoesNothing(t *testing.T) {
	var s Set
	if err := s.Hit("after-commit"); err != nil {
		t.Fatal(err)
	}
}
