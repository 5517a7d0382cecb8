package testenv

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stratahq/strata/internal/storage/s3"
)

// S3 is a versioned bucket of the test's own in the S3 server (versitygw)
// that `make test` starts (STRATA_TEST_S3_*).
const S3 = "s3"

// S3Locked is a versioned bucket of the test's own with S3 Object Lock
// enabled, for archives with archive.immutability on. Kinds does not list
// it: ask for it by name.
const S3Locked = "s3-locked"

// The variables naming the S3 server that `make test` starts.
const (
	EnvS3Endpoint  = "STRATA_TEST_S3_ENDPOINT"
	EnvS3Region    = "STRATA_TEST_S3_REGION"
	EnvS3AccessKey = "STRATA_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "STRATA_TEST_S3_SECRET_KEY"
)

const s3Missing = "no S3 server (STRATA_TEST_S3_ENDPOINT unset): run the tests with `make test` (or scripts/services.sh start)"

// S3Running says whether the tests have an S3 server; when CI is set, a
// missing one fails the test instead.
func S3Running(t testing.TB) bool {
	t.Helper()
	if os.Getenv(EnvS3Endpoint) != "" {
		return true
	}
	if os.Getenv("CI") != "" {
		t.Fatal(s3Missing)
	}
	return false
}

// NewS3Bucket creates an empty versioned bucket of the test's own and
// returns its storage.url and the variables (credentials) Strata needs to
// reach it; every version in it and the bucket go when the test ends.
// Without an S3 server the test is skipped (failed when CI is set).
func NewS3Bucket(t testing.TB) (storageURL string, vars map[string]string) {
	t.Helper()
	return newS3Bucket(t, false)
}

// NewS3LockedBucket is NewS3Bucket with S3 Object Lock enabled on the
// bucket (no default retention: each object carries its own). Objects
// under governance retention are removed at the end with the bypass
// header; objects under compliance retention or a legal hold that are
// still protected then are left to the server's throwaway state (give
// them an Until of a few seconds).
func NewS3LockedBucket(t testing.TB) (storageURL string, vars map[string]string) {
	t.Helper()
	return newS3Bucket(t, true)
}

func newS3Bucket(t testing.TB, lock bool) (storageURL string, vars map[string]string) {
	t.Helper()
	if !S3Running(t) {
		t.Skip(s3Missing)
	}
	vars = map[string]string{s3.EnvAccessKeyID: os.Getenv(EnvS3AccessKey), s3.EnvSecretAccessKey: os.Getenv(EnvS3SecretKey)}
	bucket := "strata-test-" + strings.ToLower(rand.Text()[:16])
	u := &url.URL{Scheme: "s3", Host: bucket, RawQuery: url.Values{
		"region": {os.Getenv(EnvS3Region)}, "endpoint": {os.Getenv(EnvS3Endpoint)}, "path_style": {"true"}}.Encode()}
	ctx := context.Background()
	b, err := s3.Open(ctx, u, func(k string) string { return vars[k] }, s3.Options{})
	if err != nil {
		t.Fatalf("open S3 bucket %s: %v", bucket, err)
	}
	c := b.Client()
	in := &awss3.CreateBucketInput{Bucket: aws.String(bucket)}
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(ctx, in); err != nil {
		t.Fatalf("create S3 bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { removeBucket(c, bucket) })
	if _, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("enable versioning on S3 bucket %s: %v", bucket, err)
	}
	return u.String(), vars
}

// removeBucket deletes every version and delete marker, then the bucket. It
// lists from the start again until nothing is left rather than trust a
// listing's markers while deleting under them.
func removeBucket(c *awss3.Client, bucket string) {
	ctx := context.Background()
	for range 20 {
		page, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
		if err != nil || len(page.Versions)+len(page.DeleteMarkers) == 0 {
			break
		}
		for _, v := range page.Versions {
			_, _ = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: v.Key, VersionId: v.VersionId,
				BypassGovernanceRetention: aws.Bool(true)})
		}
		for _, m := range page.DeleteMarkers {
			_, _ = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: m.Key, VersionId: m.VersionId})
		}
	}
	_, _ = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)})
}
