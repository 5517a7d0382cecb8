package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// The kinds of archive NewStorage makes.
const (
	// Local is a folder of the test's.
	Local = "local"
	// Azurite is a container of its own in the Azurite that `make test`
	// starts (STRATA_TEST_AZURITE_ENDPOINT, STRATA_TEST_AZURITE_KEY).
	Azurite = "azurite"
)

// NewStorage returns the storage.url of an empty archive of kind ("" is
// Local), and for a local one its folder; it adds the variables Strata
// needs to reach it to vars. Without Azurite or the S3 server running the
// test is skipped (failed when CI is set).
func NewStorage(t testing.TB, kind string, vars map[string]string) (storageURL, dir string) {
	t.Helper()
	switch kind {
	case "", Local:
		dir = filepath.Join(t.TempDir(), "archive")
		return (&url.URL{Scheme: "file", Path: dir}).String(), dir
	case Azurite:
		if !AzuriteRunning(t) {
			t.Skip(azuriteMissing)
		}
		endpoint, key := os.Getenv(EnvAzuriteEndpoint), os.Getenv(EnvAzuriteKey)
		vars["AZURE_STORAGE_KEY"] = key
		return fmt.Sprintf("azblob://test-%s?account=devstoreaccount1&endpoint=%s", randHex(6), url.QueryEscape(endpoint)), ""
	case S3, S3Locked:
		u, creds := newS3Bucket(t, kind == S3Locked)
		maps.Copy(vars, creds)
		return u, ""
	}
	t.Fatalf("no storage kind %q (%s, %s, %s or %s)", kind, Local, Azurite, S3, S3Locked)
	return "", ""
}

// The variables naming the Azurite that `make test` starts.
const (
	EnvAzuriteEndpoint = "STRATA_TEST_AZURITE_ENDPOINT"
	EnvAzuriteKey      = "STRATA_TEST_AZURITE_KEY"
)

const azuriteMissing = "Azurite is not running: run the tests with `make test` (or scripts/services.sh start)"

// AzuriteRunning says whether the tests have an Azurite; when CI is set,
// a missing one fails the test instead.
func AzuriteRunning(t testing.TB) bool {
	t.Helper()
	if os.Getenv(EnvAzuriteEndpoint) != "" && os.Getenv(EnvAzuriteKey) != "" {
		return true
	}
	if os.Getenv("CI") != "" {
		t.Fatal(azuriteMissing)
	}
	return false
}

// Kinds returns the kinds of archive a test can run against here: Local,
// and Azurite and S3 when their servers run (logged when they do not).
func Kinds(t testing.TB) []string {
	t.Helper()
	kinds := []string{Local}
	if AzuriteRunning(t) {
		kinds = append(kinds, Azurite)
	} else {
		t.Log(azuriteMissing + ": the Azure archive is not tried")
	}
	if S3Running(t) {
		kinds = append(kinds, S3)
	} else {
		t.Log(s3Missing + ": the S3 archive is not tried")
	}
	return kinds
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
