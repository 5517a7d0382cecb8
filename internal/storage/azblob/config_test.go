package azblob_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
)

func TestParseURL(t *testing.T) {
	ok := []struct {
		name, url string
		want      azblob.Config
	}{
		{"the endpoint defaults to the account's public one", "azblob://archive?account=acme",
			azblob.Config{Container: "archive", Account: "acme", Endpoint: "https://acme.blob.core.windows.net"}},
		{"an Azurite endpoint keeps its account path", "azblob://archive?account=devstoreaccount1&endpoint=http://127.0.0.1:10000/devstoreaccount1/",
			azblob.Config{Container: "archive", Account: "devstoreaccount1", Endpoint: "http://127.0.0.1:10000/devstoreaccount1"}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := azblob.ParseURL(mustURL(t, tc.url))
			if err != nil || got != tc.want {
				t.Errorf("ParseURL = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	bad := []struct{ name, url, wantMsg string }{
		{"a missing container is refused", "azblob://?account=acme", "no container"},
		{"a missing account is refused", "azblob://archive", "no account: add ?account=NAME"},
		{"an invalid account is refused", "azblob://archive?account=Acme_1", "account name"},
		{"an invalid container is refused", "azblob://Archive_1?account=acme", "container name"},
		{"a path after the container is refused", "azblob://archive/sub?account=acme", "container only"},
		{"an endpoint without a scheme is refused", "azblob://archive?account=acme&endpoint=127.0.0.1:10000", "endpoint is not a URL"},
		{"an endpoint with another scheme is refused", "azblob://archive?account=acme&endpoint=ftp://x", "must start with https://"},
		{"an endpoint with a SAS is refused without echoing it", "azblob://archive?account=acme&endpoint=" + url.QueryEscape("https://h/?sig=SECRET"), "AZURE_STORAGE_SAS_TOKEN"},
		{"credentials in the URL are refused", "azblob://user:SECRET@archive?account=acme", "must not contain credentials"},
		{"an unknown parameter is refused", "azblob://archive?account=acme&region=x", `"region" is unknown`},
		{"a repeated parameter is refused", "azblob://archive?account=acme&account=b", "given 2 times"},
		{"another scheme is refused", "s3://archive?account=acme", "want azblob"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := azblob.ParseURL(mustURL(t, tc.url))
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("ParseURL(%s) err = %v, want one saying %q", tc.url, err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("azblob://archive?account=acme&endpoint=http://127.0.0.1:1/devstoreaccount1")
	f.Add("azblob://?account=")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if cfg, err := azblob.ParseURL(u); err == nil && (cfg.Account == "" || cfg.Container == "" || cfg.Endpoint == "") {
			t.Errorf("ParseURL(%q) = %+v with an empty field", s, cfg)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCredentialErrorsRevealNoSecret(t *testing.T) {
	u := mustURL(t, "azblob://archive?account=acme")
	for name, env := range map[string]envMap{
		"a key that is not base64":                {azblob.EnvKey: "SECRET!!"},
		"a connection string for another account": {azblob.EnvConnectionString: "AccountName=other;AccountKey=SECRET"},
		"a malformed connection string":           {azblob.EnvConnectionString: "SECRET"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := azblob.FromURL(context.Background(), u, env.get)
			if err == nil {
				t.Fatal("FromURL succeeded")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

// fake answers every request without a server.
type fake func(*http.Request) (*http.Response, error)

func (f fake) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func status(code int, azCode string, h http.Header) fake {
	return func(r *http.Request) (*http.Response, error) {
		if h == nil {
			h = http.Header{}
		}
		h.Set("x-ms-error-code", azCode)
		return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: h,
			Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
}

func TestErrorsAreClassifiedForTheRetryLayer(t *testing.T) {
	type retryable interface{ Retryable() bool }
	type after interface{ RetryAfter() time.Duration }
	cases := []struct {
		name      string
		rt        fake
		sentinel  error
		retry     bool
		wait      time.Duration
		wantInMsg string
	}{
		{"503 with Retry-After is retryable after that delay", status(503, "ServerBusy", http.Header{"Retry-After": {"7"}}), nil, true, 7 * time.Second, "HTTP 503 ServerBusy"},
		{"429 is retryable", status(429, "TooManyRequests", nil), nil, true, 0, "429"},
		{"408 is retryable", status(408, "RequestTimeout", nil), nil, true, 0, "408"},
		{"500 with x-ms-retry-after-ms is retryable", status(500, "InternalError", http.Header{"X-Ms-Retry-After-Ms": {"1500"}}), nil, true, 1500 * time.Millisecond, "500"},
		{"404 is ErrNotExist and permanent", status(404, "BlobNotFound", nil), storage.ErrNotExist, false, 0, "BlobNotFound"},
		{"403 is permanent and says how to fix it", status(403, "AuthorizationFailure", nil), nil, false, 0, "AZURE_STORAGE_KEY"},
		{"409 immutability is ErrImmutable", status(409, "BlobImmutableDueToPolicy", nil), storage.ErrImmutable, false, 0, "immutable"},
		{"409 legal hold is ErrImmutable", status(409, "BlobImmutableDueToLegalHold", nil), storage.ErrImmutable, false, 0, "immutable"},
		{"a reset connection is retryable and hides the SAS", func(r *http.Request) (*http.Response, error) {
			return nil, &url.Error{Op: "Delete", URL: r.URL.String(), Err: syscall.ECONNRESET}
		}, nil, true, 0, "?REDACTED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := mustURL(t, "azblob://archive?account=acme")
			b, err := azblob.Open(context.Background(), u, envMap{azblob.EnvSASToken: "?sv=2024&sig=SECRET"}.get, azblob.Options{Transport: tc.rt})
			if err != nil {
				t.Fatal(err)
			}
			err = b.Delete(context.Background(), storage.MustKey("k"))
			if err == nil {
				t.Fatal("Delete succeeded")
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("err = %v, want %v", err, tc.sentinel)
			}
			var r retryable
			if !errors.As(err, &r) || r.Retryable() != tc.retry {
				t.Errorf("Retryable() = %v, want %v (err %v)", r != nil && r.Retryable(), tc.retry, err)
			}
			var a after
			if errors.As(err, &a) && a.RetryAfter() != tc.wait {
				t.Errorf("RetryAfter() = %v, want %v", a.RetryAfter(), tc.wait)
			}
			if msg := err.Error(); strings.Contains(msg, "SECRET") || !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("message %q: want %q in it and no secret", msg, tc.wantInMsg)
			}
			if storage.IsRetryable(err) != tc.retry {
				t.Errorf("storage.IsRetryable = %v, want %v", !tc.retry, tc.retry)
			}
		})
	}
}

func TestSDKRetriesAreOff(t *testing.T) {
	calls := 0
	rt := fake(func(r *http.Request) (*http.Response, error) {
		calls++
		return status(503, "ServerBusy", nil)(r)
	})
	b, err := azblob.Open(context.Background(), mustURL(t, "azblob://archive?account=acme"), envMap{azblob.EnvSASToken: "sig=x"}.get, azblob.Options{Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(context.Background(), storage.MustKey("k")); err == nil {
		t.Fatal("Stat succeeded")
	}
	if calls != 1 {
		t.Errorf("a 503 was sent %d times, want once (Strata's retry layer retries)", calls)
	}
}
