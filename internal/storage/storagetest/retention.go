package storagetest

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// RunRetention runs the retention cases: a Put with retention is stated by
// Stat, Delete is refused (ErrImmutable) before Until and allowed after,
// legal holds refuse Delete until cleared (even once the retention has
// ended), and GetVersionRange reads the version Put wrote. newBackend must
// return a backend whose Caps().Retention is true on a store that passes
// CheckRetention (an S3 bucket with Object Lock, ...). The cases wait a few
// seconds for retention to end, in parallel.
func RunRetention(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"the store accepts both retention modes at start-up", testCheckRetention},
		{"Stat states the retention and version a Put asked for", testRetentionStat},
		{"Delete is refused before Until and removes the object after", testRetentionDelete},
		{"a legal hold refuses Delete until it is cleared", testLegalHold},
		{"a legal hold outlives the retention", testLegalHoldOutlivesRetention},
		{"GetVersionRange reads the version Put wrote", testGetVersion},
		{"SetRetention protects an object written without one, and never shortens it", testSetRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			if !b.Caps().Retention {
				t.Fatalf("backend %q: Caps().Retention is false; RunRetention is for backends that keep retention", b.Caps().Name)
			}
			tc.fn(t, &suite{b: b, prefix: freshPrefix(t)})
		})
	}
}

// retainFor is how long the cases' objects are protected: long enough for
// the checks before it ends, short enough to wait for.
const retainFor = 3 * time.Second

// putRetained stores p under key with retention r and fails on error.
func (s *suite) putRetained(t *testing.T, key storage.Key, p []byte, r storage.Retention) storage.ObjectInfo {
	t.Helper()
	opts := optsFor(p)
	opts.Retention = r
	info, err := s.b.Put(t.Context(), key, bytes.NewReader(p), opts)
	if err != nil {
		t.Fatalf("Put %s with %s retention until %s: %v", key, r.Mode, r.Until.Format(time.RFC3339Nano), err)
	}
	return info
}

// waitUntil sleeps until t0 has passed by a margin for clock skew.
func waitUntil(t0 time.Time) {
	time.Sleep(time.Until(t0) + 500*time.Millisecond)
}

func testCheckRetention(t *testing.T, s *suite) {
	for _, m := range []storage.RetentionMode{storage.RetentionOff, storage.RetentionGovernance, storage.RetentionCompliance} {
		if err := s.b.CheckRetention(t.Context(), m); err != nil {
			t.Errorf("CheckRetention(%s): %v, want nil on a store set up for retention", m, err)
		}
	}
}

func testRetentionStat(t *testing.T, s *suite) {
	until := time.Now().Add(retainFor).UTC()
	for i, m := range []storage.RetentionMode{storage.RetentionGovernance, storage.RetentionCompliance} {
		key := s.key(t, m.String())
		put := s.putRetained(t, key, payload(uint64(i), 100), storage.Retention{Mode: m, Until: until})
		st, err := s.b.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat %s: %v", key, err)
		}
		r := st.Retention
		if r.Mode != m || r.Until.Sub(until).Abs() > time.Second || r.LegalHold {
			t.Errorf("Stat %s: retention %+v, want mode %s until %s without legal hold", key, r, m, until)
		}
		if s.b.Caps().Versions && (put.VersionID == "" || st.VersionID != put.VersionID) {
			t.Errorf("Put returned version %q and Stat %q: want the same non-empty id", put.VersionID, st.VersionID)
		}
	}
	waitUntil(until)
	for _, m := range []storage.RetentionMode{storage.RetentionGovernance, storage.RetentionCompliance} {
		if err := s.b.Delete(t.Context(), s.key(t, m.String())); err != nil {
			t.Errorf("Delete of the %s object after Until: %v", m, err)
		}
	}
	plain := s.key(t, "plain")
	s.put(t, plain, []byte("no retention"))
	if st, err := s.b.Stat(t.Context(), plain); err != nil || st.Retention != (storage.Retention{}) {
		t.Errorf("Stat of an object put without retention: (%+v, %v), want no retention", st.Retention, err)
	}
}

func testRetentionDelete(t *testing.T, s *suite) {
	key := s.key(t, "retained")
	p := []byte("evidence")
	until := time.Now().Add(retainFor)
	s.putRetained(t, key, p, storage.Retention{Mode: storage.RetentionCompliance, Until: until})
	wantErrIs(t, "Delete before Until", s.b.Delete(t.Context(), key), storage.ErrImmutable)
	s.wantContent(t, key, p)
	_, err := s.b.Put(t.Context(), key, bytes.NewReader([]byte("impostor")), optsFor([]byte("impostor")))
	wantErrIs(t, "Put over a retained object", err, storage.ErrExist)
	s.wantContent(t, key, p)
	waitUntil(until)
	if err := s.b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete after Until: %v", err)
	}
	s.wantNotVisible(t, key)
}

func testSetRetention(t *testing.T, s *suite) {
	ctx := t.Context()
	until := time.Now().Add(retainFor).Truncate(time.Second).Add(time.Second)
	r := storage.Retention{Mode: storage.RetentionCompliance, Until: until}
	wantErrIs(t, "SetRetention of a missing key", s.b.SetRetention(ctx, s.key(t, "missing"), "", r), storage.ErrNotExist)
	key := s.key(t, "late")
	info := s.put(t, key, []byte("archived before immutability"))
	if err := s.b.SetRetention(ctx, key, info.VersionID, r); err != nil {
		t.Fatalf("SetRetention of version %q: %v", info.VersionID, err)
	}
	st, err := s.b.Stat(ctx, key)
	if err != nil || st.Retention.Mode != storage.RetentionCompliance || st.Retention.Until.Sub(until).Abs() > time.Second {
		t.Fatalf("Stat after SetRetention: (%+v, %v), want compliance until %s", st.Retention, err, until.Format(time.RFC3339))
	}
	wantErrIs(t, "Delete after SetRetention, before Until", s.b.Delete(ctx, key), storage.ErrImmutable)
	s.wantContent(t, key, []byte("archived before immutability"))
	if err := s.b.SetRetention(ctx, key, info.VersionID, storage.Retention{Mode: storage.RetentionCompliance, Until: until.Add(-time.Hour)}); err == nil {
		t.Fatal("SetRetention shortened a compliance retention")
	}
	if st, err := s.b.Stat(ctx, key); err != nil || st.Retention.Until.Sub(until).Abs() > time.Second {
		t.Fatalf("Stat after a refused shortening: (%+v, %v), want until %s still", st.Retention, err, until.Format(time.RFC3339))
	}
	waitUntil(until)
	if err := s.b.Delete(ctx, key); err != nil {
		t.Fatalf("Delete after Until: %v", err)
	}
	s.wantNotVisible(t, key)
}

func testLegalHold(t *testing.T, s *suite) {
	wantErrIs(t, "SetLegalHold of a missing key", s.b.SetLegalHold(t.Context(), s.key(t, "missing"), true), storage.ErrNotExist)
	key := s.key(t, "held")
	s.put(t, key, []byte("held"))
	if err := s.b.SetLegalHold(t.Context(), key, true); err != nil {
		t.Fatalf("SetLegalHold on: %v", err)
	}
	if st, err := s.b.Stat(t.Context(), key); err != nil || !st.Retention.LegalHold {
		t.Errorf("Stat after SetLegalHold on: (%+v, %v), want LegalHold", st.Retention, err)
	}
	wantErrIs(t, "Delete under a legal hold", s.b.Delete(t.Context(), key), storage.ErrImmutable)
	s.wantContent(t, key, []byte("held"))
	if err := s.b.SetLegalHold(t.Context(), key, false); err != nil {
		t.Fatalf("SetLegalHold off: %v", err)
	}
	if st, err := s.b.Stat(t.Context(), key); err != nil || st.Retention.LegalHold {
		t.Errorf("Stat after SetLegalHold off: (%+v, %v), want no legal hold", st.Retention, err)
	}
	if err := s.b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete after the hold is cleared: %v", err)
	}
	s.wantNotVisible(t, key)
}

func testLegalHoldOutlivesRetention(t *testing.T, s *suite) {
	key := s.key(t, "held-past-retention")
	until := time.Now().Add(retainFor)
	s.putRetained(t, key, []byte("held"), storage.Retention{Mode: storage.RetentionGovernance, Until: until, LegalHold: true})
	if st, err := s.b.Stat(t.Context(), key); err != nil || !st.Retention.LegalHold {
		t.Errorf("Stat of an object put with a legal hold: (%+v, %v), want LegalHold", st.Retention, err)
	}
	waitUntil(until)
	wantErrIs(t, "Delete after Until with the legal hold on", s.b.Delete(t.Context(), key), storage.ErrImmutable)
	s.wantContent(t, key, []byte("held"))
	if err := s.b.SetLegalHold(t.Context(), key, false); err != nil {
		t.Fatalf("SetLegalHold off: %v", err)
	}
	if err := s.b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete after the hold is cleared and retention ended: %v", err)
	}
}

func testGetVersion(t *testing.T, s *suite) {
	key := s.key(t, "versioned")
	p := payload(7, 1000)
	info := s.putRetained(t, key, p, storage.Retention{Mode: storage.RetentionGovernance, Until: time.Now().Add(retainFor)})
	for _, v := range []string{"", info.VersionID} {
		rc, err := s.b.GetVersionRange(t.Context(), key, v, 10, 100)
		if err != nil {
			t.Fatalf("GetVersionRange(%q): %v", v, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, p[10:110]) {
			t.Errorf("GetVersionRange(%q, 10, 100): %d bytes, %v; want bytes 10-109 of what Put wrote", v, len(got), err)
		}
	}
	_, err := s.b.GetVersionRange(t.Context(), key, "no-such-version", 0, -1)
	want := storage.ErrNotExist
	if !s.b.Caps().Versions {
		want = storage.ErrUnsupported
	}
	if !errors.Is(err, want) {
		t.Errorf("GetVersionRange of an unknown version: %v, want %v", err, want)
	}
}
