package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/faulty"
	"github.com/stratahq/strata/internal/storage/s3"
)

// A bucket without Object Lock is refused at start-up and by a Put that
// asks for retention, with the missing feature named, rather than store an
// object that is not protected.
func TestABucketWithoutObjectLockIsRefused(t *testing.T) {
	b, _ := newBackend(t, s3.Options{})
	err := b.CheckRetention(t.Context(), storage.RetentionCompliance)
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "Object Lock") {
		t.Errorf("CheckRetention on a bucket without Object Lock: %v, want ErrUnsupported naming Object Lock", err)
	}
	if err := b.CheckRetention(t.Context(), storage.RetentionOff); err != nil {
		t.Errorf("CheckRetention(off): %v, want nil", err)
	}
	p, opts := content(100)
	opts.Retention = storage.Retention{Mode: storage.RetentionGovernance, Until: time.Now().Add(time.Hour)}
	key := storage.MustKey("unprotected")
	if _, err := b.Put(t.Context(), key, bytes.NewReader(p), opts); !errors.Is(err, storage.ErrUnsupported) {
		t.Errorf("Put with retention on a bucket without Object Lock: %v, want ErrUnsupported", err)
	}
	if _, err := b.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after the refused Put: %v, want ErrNotExist", err)
	}
}

// The Object Lock headers go with the single PutObject and with
// CreateMultipartUpload, next to the SHA-256 checksum that S3 requires of
// Object Lock puts (in place of Content-MD5), and the multipart object
// carries its retention too.
func TestPutSendsObjectLockHeaders(t *testing.T) {
	b, rec := newLockedBackend(t, s3.Options{PartSize: s3.MinPartSize})
	until := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	r := storage.Retention{Mode: storage.RetentionCompliance, Until: until, LegalHold: true}
	for _, size := range []int{1000, s3.MinPartSize + 1000} {
		p, opts := content(size)
		opts.Retention = r
		key := storage.MustKey("locked", strconv.Itoa(size))
		info, err := b.Put(t.Context(), key, bytes.NewReader(p), opts)
		if err != nil {
			t.Fatalf("Put %d bytes with retention: %v", size, err)
		}
		st, err := b.Stat(t.Context(), key)
		if err != nil || st.Retention.Mode != r.Mode || !st.Retention.Until.Equal(until) || !st.Retention.LegalHold || st.VersionID != info.VersionID {
			t.Errorf("Stat of the %d-byte object: (%+v, %v), want %+v and version %q", size, st, err, r, info.VersionID)
		}
		if err := b.SetLegalHold(t.Context(), key, false); err != nil {
			t.Errorf("SetLegalHold off: %v", err)
		}
	}
	var locked int
	for _, req := range rec.requests() {
		creates := req.Method == http.MethodPost && req.URL.Query().Has("uploads")
		single := req.Method == http.MethodPut && !req.URL.Query().Has("partNumber") && !req.URL.Query().Has("legal-hold")
		if !creates && !single {
			continue
		}
		locked++
		h := req.Header
		if h.Get("X-Amz-Object-Lock-Mode") != "COMPLIANCE" || h.Get("X-Amz-Object-Lock-Retain-Until-Date") != until.Format(time.RFC3339) ||
			h.Get("X-Amz-Object-Lock-Legal-Hold") != "ON" {
			t.Errorf("%s %s: object lock headers mode %q until %q hold %q, want COMPLIANCE %s ON", req.Method, req.URL.Path,
				h.Get("X-Amz-Object-Lock-Mode"), h.Get("X-Amz-Object-Lock-Retain-Until-Date"), h.Get("X-Amz-Object-Lock-Legal-Hold"), until.Format(time.RFC3339))
		}
		if single && h.Get("X-Amz-Checksum-Sha256") == "" {
			t.Errorf("PutObject with Object Lock has no x-amz-checksum-sha256")
		}
		if creates && h.Get("X-Amz-Checksum-Algorithm") != "SHA256" {
			t.Errorf("CreateMultipartUpload with Object Lock: checksum algorithm %q, want SHA256", h.Get("X-Amz-Checksum-Algorithm"))
		}
	}
	if locked != 2 {
		t.Errorf("saw %d PutObject/CreateMultipartUpload requests, want 2", locked)
	}
}

// What anyone holding the bucket's keys can do to an archived object, done
// with the raw S3 API: deleting its version is refused; a plain delete only
// adds a delete marker and an overwrite only adds a version, and the
// version Strata wrote still reads back byte for byte by its id. Once the
// retention ends, Delete removes every version of the key.
func TestAnArchivedVersionSurvivesTheRawS3API(t *testing.T) {
	b, _ := newLockedBackend(t, s3.Options{})
	c, bucket := b.Client(), aws.String(b.Config().Bucket)
	key := storage.MustKey("day", "2026-01-02.parquet")
	p, opts := content(4096)
	until := time.Now().Add(3 * time.Second)
	opts.Retention = storage.Retention{Mode: storage.RetentionCompliance, Until: until}
	info, err := b.Put(t.Context(), key, bytes.NewReader(p), opts)
	if err != nil || info.VersionID == "" {
		t.Fatalf("Put: (%+v, %v), want a version id", info, err)
	}
	_, err = c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: bucket, Key: aws.String(key.String()),
		VersionId: aws.String(info.VersionID), BypassGovernanceRetention: aws.Bool(true)})
	if err == nil {
		t.Fatal("raw DeleteObject of the archived version succeeded, want it refused by Object Lock")
	}
	impostor := []byte("forged rows")
	if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: bucket, Key: aws.String(key.String()), Body: bytes.NewReader(impostor)}); err != nil {
		t.Fatalf("raw PutObject over the key: %v", err)
	}
	if st, err := b.Stat(t.Context(), key); err != nil || st.VersionID == info.VersionID {
		t.Errorf("Stat after the overwrite: (%+v, %v), want the impostor's new version as current", st, err)
	}
	if _, err := c.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: bucket, Key: aws.String(key.String())}); err != nil {
		t.Fatalf("raw DeleteObject without a version (adds a delete marker): %v", err)
	}
	rc, err := b.GetVersionRange(t.Context(), key, info.VersionID, 0, -1)
	if err != nil {
		t.Fatalf("GetVersionRange of the archived version: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, p) {
		t.Errorf("the archived version reads %d bytes (%v), want the %d bytes Put wrote", len(got), err, len(p))
	}
	if err := b.Delete(t.Context(), key); !errors.Is(err, storage.ErrImmutable) {
		t.Errorf("Delete before Until: %v, want ErrImmutable", err)
	}
	time.Sleep(time.Until(until) + 500*time.Millisecond)
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete after Until: %v", err)
	}
	vs, err := c.ListObjectVersions(t.Context(), &awss3.ListObjectVersionsInput{Bucket: bucket, Prefix: aws.String(key.String())})
	if err != nil || len(vs.Versions)+len(vs.DeleteMarkers) != 0 {
		t.Errorf("after Delete: %d versions and %d delete markers (%v), want none", len(vs.Versions), len(vs.DeleteMarkers), err)
	}
}

// The retry layer resumes a broken read of a version from the same version,
// even when the key's current version is another writer's.
func TestRetryResumesTheVersionItWasReading(t *testing.T) {
	b, _ := newBackend(t, s3.Options{})
	key := storage.MustKey("resumed")
	p, opts := content(5000)
	info, err := b.Put(t.Context(), key, bytes.NewReader(p), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client().PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(b.Config().Bucket),
		Key: aws.String(key.String()), Body: strings.NewReader("newer version")}); err != nil {
		t.Fatal(err)
	}
	f := faulty.Wrap(b, faulty.Options{BreakReads: 1000})
	r := storage.WithRetry(f, storage.RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }})
	rc, err := r.GetVersionRange(t.Context(), key, info.VersionID, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, p) {
		t.Errorf("read %d bytes (%v) across broken connections, want the %d bytes of the version", len(got), err, len(p))
	}
	if n := f.Calls(faulty.OpGetVersion); n < 5 {
		t.Errorf("%d version reads, want at least 5 (a resume every 1000 bytes)", n)
	}
}
