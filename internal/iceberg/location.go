package iceberg

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/azblob"
	"github.com/stratahq/strata/internal/storage/s3"
)

// locator turns storage keys into the absolute URIs that Iceberg metadata
// records and engines open, and back. The base is the URI of the
// archive's root (the key "" ), always ending in "/".
type locator struct {
	base string
}

// newLocator derives the base URI from storage.url: file:///dir becomes
// file:///dir/, s3://BUCKET?... s3://BUCKET/ and azblob://CONTAINER?account=A
// abfss://CONTAINER@A.dfs.core.windows.net/ (the ADLS Gen2 form Spark,
// Trino, Fabric and Synapse understand; the same account's Blob endpoint
// serves the same bytes).
func newLocator(storageURL string) (locator, error) {
	u, err := url.Parse(storageURL)
	if err != nil {
		return locator{}, fmt.Errorf("iceberg: storage.url is not a URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		dir := filepath.ToSlash(filepath.Clean(filepath.FromSlash(u.Path)))
		if !strings.HasPrefix(dir, "/") {
			return locator{}, fmt.Errorf("iceberg: storage.url file path %q is not absolute", u.Path)
		}
		return locator{base: (&url.URL{Scheme: "file", Path: strings.TrimSuffix(dir, "/") + "/"}).String()}, nil
	case "s3":
		cfg, err := s3.ParseURL(u)
		if err != nil {
			return locator{}, fmt.Errorf("iceberg: %w", err)
		}
		return locator{base: "s3://" + cfg.Bucket + "/"}, nil
	case "azblob":
		cfg, err := azblob.ParseURL(u)
		if err != nil {
			return locator{}, fmt.Errorf("iceberg: %w", err)
		}
		return locator{base: "abfss://" + cfg.Container + "@" + cfg.Account + ".dfs.core.windows.net/"}, nil
	}
	return locator{}, fmt.Errorf("iceberg: storage.url scheme %q has no Iceberg location (file, s3 and azblob have)", u.Scheme)
}

// uri is the absolute location of key.
func (l locator) uri(key storage.Key) string { return l.base + key.String() }

// key is the storage key of an absolute location under the base. It
// refuses a location elsewhere, so nothing outside the archive is ever
// read or written through the adapter.
func (l locator) key(uri string) (storage.Key, error) {
	rest, ok := strings.CutPrefix(uri, l.base)
	if !ok && strings.HasPrefix(l.base, "file:///") {
		// iceberg-go and engines also write file:/dir for file:///dir.
		rest, ok = strings.CutPrefix(uri, "file:"+strings.TrimPrefix(l.base, "file://"))
	}
	if !ok {
		return storage.Key{}, fmt.Errorf("iceberg: location %q is outside the archive (%s)", uri, l.base)
	}
	k, err := storage.ParseKey(rest)
	if err != nil {
		return storage.Key{}, fmt.Errorf("iceberg: location %q: %w", uri, err)
	}
	return k, nil
}
