package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stratahq/strata/internal/storage"
)

// Delete removes every version of the key, oldest first, and then its
// delete markers. A plain DeleteObject on a versioned bucket would only add
// a delete marker: it "succeeds" against a locked object while its bytes
// stay, and it keeps the key from being written create-only again.
// Deleting by version id is what S3 Object Lock refuses, so a version still
// under retention or a legal hold stops Delete with ErrImmutable and leaves
// it and every newer version in place. A version whose legal hold is on is
// refused here without asking S3 to delete it (some servers, versitygw
// v1.7.0 among them, let a held version go once its retention has ended).
// ErrNotExist if the key has no version.
func (b *Backend) Delete(ctx context.Context, key storage.Key) error {
	versions, markers, err := b.versions(ctx, key)
	if err != nil {
		return translate("delete", b.path(key), err)
	}
	if len(versions) == 0 {
		b.deleteMarkers(ctx, key, markers)
		return fmt.Errorf("s3 delete %s: %w", b.path(key), storage.ErrNotExist)
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if err := b.deleteVersion(ctx, key, versions[i]); err != nil {
			return err
		}
	}
	b.deleteMarkers(ctx, key, markers)
	return nil
}

// deleteVersion deletes one version ("" or "null": the only object of an
// unversioned bucket) unless its legal hold is on.
func (b *Backend) deleteVersion(ctx context.Context, key storage.Key, version string) error {
	info, err := b.head(ctx, "delete", key, versionID(&version))
	switch {
	case err == nil && info.Retention.LegalHold:
		return fmt.Errorf("s3 delete %s version %s: %w (its legal hold is on)", b.path(key), version, storage.ErrImmutable)
	case err != nil && !errors.Is(err, storage.ErrNotExist):
		return err
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()), VersionId: optional(versionID(&version))})
	if err != nil {
		return fmt.Errorf("s3 delete %s version %s: %w", b.path(key), version, translate("delete", b.path(key), err))
	}
	return nil
}

// deleteMarkers removes delete markers left by other tools; they hold no
// bytes, so a failure is not reported.
func (b *Backend) deleteMarkers(ctx context.Context, key storage.Key, markers []string) {
	for _, m := range markers {
		_, _ = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{
			Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()), VersionId: aws.String(m)})
	}
}

// versions returns the ids of the key's versions and of its delete markers,
// newest first as S3 lists them.
func (b *Backend) versions(ctx context.Context, key storage.Key) (versions, markers []string, err error) {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(b.cfg.Bucket), Prefix: aws.String(key.String())}
	pager := s3.NewListObjectVersionsPaginator(b.client, in)
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		versions = appendIDs(versions, key, page.Versions, func(v types.ObjectVersion) (*string, *string) { return v.Key, v.VersionId })
		markers = appendIDs(markers, key, page.DeleteMarkers, func(m types.DeleteMarkerEntry) (*string, *string) { return m.Key, m.VersionId })
		if len(page.Versions) > 0 && aws.ToString(page.Versions[len(page.Versions)-1].Key) > key.String() {
			break // past the key: the rest of the prefix is other keys
		}
	}
	return versions, markers, nil
}

func appendIDs[T any](ids []string, key storage.Key, items []T, kv func(T) (*string, *string)) []string {
	for _, it := range items {
		if k, v := kv(it); aws.ToString(k) == key.String() {
			ids = append(ids, aws.ToString(v))
		}
	}
	return ids
}
