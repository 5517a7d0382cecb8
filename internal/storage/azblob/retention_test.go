package azblob_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
)

// Azurite implements no immutability: CheckRetention says which feature is
// missing, a Put that asks for retention is refused before anything is
// stored, and SetLegalHold is ErrUnsupported.
func TestAzuriteLacksImmutabilityAndSaysSo(t *testing.T) {
	f := newFixture(t, azblob.Options{})
	ctx := t.Context()
	err := f.b.CheckRetention(ctx, storage.RetentionCompliance)
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "container does not exist") {
		t.Errorf("CheckRetention before the container exists: %v, want ErrUnsupported saying it does not exist", err)
	}
	if err := f.b.EnsureContainer(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range []storage.RetentionMode{storage.RetentionGovernance, storage.RetentionCompliance} {
		err := f.b.CheckRetention(ctx, m)
		if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "version-level immutability") {
			t.Errorf("CheckRetention(%s) against Azurite: %v, want ErrUnsupported naming version-level immutability", m, err)
		}
	}
	if err := f.b.CheckRetention(ctx, storage.RetentionOff); err != nil {
		t.Errorf("CheckRetention(off): %v", err)
	}
	key := storage.MustKey("unprotected")
	p, opts := content(100)
	opts.Retention = storage.Retention{Mode: storage.RetentionCompliance, Until: time.Now().Add(time.Hour)}
	if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); !errors.Is(err, storage.ErrUnsupported) {
		t.Errorf("Put with retention on Azurite: %v, want ErrUnsupported", err)
	}
	if _, err := f.b.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after the refused Put: %v, want ErrNotExist (nothing stored unprotected)", err)
	}
	opts.Retention = storage.Retention{}
	if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); err != nil {
		t.Fatal(err)
	}
	err = f.b.SetLegalHold(ctx, key, true)
	if !errors.Is(err, storage.ErrUnsupported) || storage.IsRetryable(err) {
		t.Errorf("SetLegalHold on Azurite: %v, want ErrUnsupported, not retryable", err)
	}
}

// fakeAzure plays, in front of Azurite, the parts of a real Azure account
// that Azurite lacks: the container states version-level immutability
// support, blobs state the policy their Put sent (and the lock), and the
// lock and legal-hold calls succeed. Everything else goes to Azurite.
type fakeAzure struct {
	mu     sync.Mutex
	policy map[string]http.Header // blob path -> policy headers to state
	// failLock makes the next lock call fail with 500.
	failLock bool
}

func (z *fakeAzure) answer(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	z.mu.Lock()
	defer z.mu.Unlock()
	switch {
	case req.Method == http.MethodPut && q.Get("comp") == "immutabilityPolicies":
		if z.failLock {
			z.failLock = false
			return fakeResponse(req, http.StatusInternalServerError, nil), nil
		}
		z.policy[req.URL.Path] = http.Header{
			"X-Ms-Immutability-Policy-Until-Date": {header(req.Header, "x-ms-immutability-policy-until-date")},
			"X-Ms-Immutability-Policy-Mode":       {strings.ToLower(header(req.Header, "x-ms-immutability-policy-mode"))}}
		return fakeResponse(req, http.StatusOK, nil), nil
	case req.Method == http.MethodPut && q.Get("comp") == "legalhold":
		return fakeResponse(req, http.StatusOK, http.Header{"X-Ms-Legal-Hold": {header(req.Header, "x-ms-legal-hold")}}), nil
	case req.Method == http.MethodPut && (q.Get("comp") == "blocklist" || q.Get("comp") == "" && q.Get("restype") == ""):
		if until := header(req.Header, "x-ms-immutability-policy-until-date"); until != "" {
			z.policy[req.URL.Path] = http.Header{"X-Ms-Immutability-Policy-Until-Date": {until}, "X-Ms-Immutability-Policy-Mode": {"unlocked"}}
		}
	case q.Get("restype") == "container" && q.Get("comp") == "":
		return passThrough(req, http.Header{"X-Ms-Immutable-Storage-With-Versioning-Enabled": {"true"}})
	case req.Method == http.MethodHead:
		return passThrough(req, z.policy[req.URL.Path])
	}
	return nil, nil
}

func passThrough(req *http.Request, add http.Header) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		for k, v := range add {
			resp.Header[k] = v
		}
	}
	return resp, err
}

func fakeResponse(req *http.Request, status int, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("x-ms-request-id", "fake")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if status >= 400 {
		h.Set("x-ms-error-code", "InternalError")
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Request: req,
		Body: io.NopCloser(strings.NewReader("")), ContentLength: 0}
}

// The exact headers and calls Strata sends to Azure for retention: the
// immutability policy's until-date and mode Unlocked on the upload (Put
// Blob and Put Block List), then for compliance only a Set Blob
// Immutability Policy with mode Locked and the same date; x-ms-legal-hold
// for legal holds; and after a failed lock, the next Put of the same
// bytes locks the blob it finds.
func TestRetentionHeadersAndCallsSentToAzure(t *testing.T) {
	z := &fakeAzure{policy: map[string]http.Header{}}
	f := newFixture(t, small)
	f.rec.fail = z.answer
	ctx := t.Context()
	if err := f.b.EnsureContainer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.b.CheckRetention(ctx, storage.RetentionCompliance); err != nil {
		t.Fatalf("CheckRetention with the container stating version-level immutability: %v", err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	wantDate := until.Format(http.TimeFormat)
	for _, tc := range []struct {
		name string
		size int
		mode storage.RetentionMode
		op   string // comp of the upload's last request
	}{
		{"compliance-single", 1000, storage.RetentionCompliance, ""},
		{"compliance-blocks", 200 << 10, storage.RetentionCompliance, "blocklist"},
		{"governance-single", 1000, storage.RetentionGovernance, ""},
	} {
		n := len(f.rec.puts())
		p, opts := content(tc.size)
		opts.Retention = storage.Retention{Mode: tc.mode, Until: until}
		if _, err := f.b.Put(ctx, storage.MustKey(tc.name), bytes.NewReader(p), opts); err != nil {
			t.Fatalf("%s: Put: %v", tc.name, err)
		}
		var upload, lock *recorded
		for _, r := range f.rec.puts()[n:] {
			switch r.query.Get("comp") {
			case tc.op:
				upload = &r
			case "immutabilityPolicies":
				lock = &r
			}
		}
		if upload == nil || header(upload.header, "x-ms-immutability-policy-until-date") != wantDate ||
			header(upload.header, "x-ms-immutability-policy-mode") != "Unlocked" || header(upload.header, "If-None-Match") != "*" {
			t.Errorf("%s: upload request %+v, want until-date %q, mode Unlocked, If-None-Match *", tc.name, upload, wantDate)
		}
		switch {
		case tc.mode == storage.RetentionGovernance && lock != nil:
			t.Errorf("%s: a lock call was sent for governance", tc.name)
		case tc.mode == storage.RetentionCompliance && (lock == nil || header(lock.header, "x-ms-immutability-policy-mode") != "Locked" ||
			header(lock.header, "x-ms-immutability-policy-until-date") != wantDate):
			t.Errorf("%s: lock request %+v, want mode Locked and until-date %q", tc.name, lock, wantDate)
		}
		st, err := f.b.Stat(ctx, storage.MustKey(tc.name))
		if err != nil || st.Retention.Mode != tc.mode || !st.Retention.Until.Equal(until) {
			t.Errorf("%s: Stat (%+v, %v), want %s until %s as stated", tc.name, st.Retention, err, tc.mode, until)
		}
	}

	n := len(f.rec.puts())
	if err := f.b.SetLegalHold(ctx, storage.MustKey("governance-single"), true); err != nil {
		t.Fatalf("SetLegalHold: %v", err)
	}
	if hold := f.rec.puts()[n:]; len(hold) != 1 || hold[0].query.Get("comp") != "legalhold" || header(hold[0].header, "x-ms-legal-hold") != "true" {
		t.Errorf("SetLegalHold sent %+v, want one PUT comp=legalhold with x-ms-legal-hold: true", hold)
	}

	// SetRetention of a blob written without retention: a policy Unlocked,
	// then for compliance Locked, on the version, with the date.
	for _, tc := range []struct {
		mode  storage.RetentionMode
		modes []string
	}{
		{storage.RetentionGovernance, []string{"Unlocked"}},
		{storage.RetentionCompliance, []string{"Unlocked", "Locked"}},
	} {
		key := storage.MustKey("late-" + string(tc.mode))
		p, opts := content(1000)
		if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); err != nil {
			t.Fatal(err)
		}
		n := len(f.rec.puts())
		if err := f.b.SetRetention(ctx, key, "", storage.Retention{Mode: tc.mode, Until: until}); err != nil {
			t.Fatalf("SetRetention %s: %v", tc.mode, err)
		}
		var modes []string
		for _, r := range f.rec.puts()[n:] {
			if r.query.Get("comp") != "immutabilityPolicies" || header(r.header, "x-ms-immutability-policy-until-date") != wantDate {
				t.Errorf("SetRetention %s sent %+v, want only comp=immutabilityPolicies with until-date %q", tc.mode, r, wantDate)
			}
			modes = append(modes, header(r.header, "x-ms-immutability-policy-mode"))
		}
		if strings.Join(modes, ",") != strings.Join(tc.modes, ",") {
			t.Errorf("SetRetention %s sent policy modes %v, want %v", tc.mode, modes, tc.modes)
		}
		if st, err := f.b.Stat(ctx, key); err != nil || st.Retention.Mode != tc.mode || !st.Retention.Until.Equal(until) {
			t.Errorf("Stat after SetRetention %s: (%+v, %v)", tc.mode, st.Retention, err)
		}
	}

	// A lock that fails leaves an unlocked blob; Put again finds it (its
	// own bytes) and locks it before reporting ErrExist.
	key := storage.MustKey("lock-failed")
	p, opts := content(1000)
	opts.Retention = storage.Retention{Mode: storage.RetentionCompliance, Until: until}
	z.mu.Lock()
	z.failLock = true
	z.mu.Unlock()
	_, err := f.b.Put(ctx, key, bytes.NewReader(p), opts)
	if err == nil || !storage.IsRetryable(err) {
		t.Fatalf("Put whose lock failed: %v, want a retryable error", err)
	}
	if st, err := f.b.Stat(ctx, key); err != nil || st.Retention.Mode != storage.RetentionGovernance {
		t.Errorf("Stat after the failed lock: (%+v, %v), want the unlocked policy stated as governance", st.Retention, err)
	}
	if _, err := f.b.Put(ctx, key, bytes.NewReader(p), opts); !errors.Is(err, storage.ErrExist) {
		t.Errorf("second Put: %v, want ErrExist", err)
	}
	if st, err := f.b.Stat(ctx, key); err != nil || st.Retention.Mode != storage.RetentionCompliance {
		t.Errorf("Stat after the second Put: (%+v, %v), want the policy locked (compliance)", st.Retention, err)
	}
}
