package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stratahq/strata/internal/storage"
)

// CheckRetention checks that the bucket can hold every object under mode:
// versioning on and Object Lock enabled (S3 Object Lock needs both). The
// error wraps storage.ErrUnsupported and says how to enable what is missing.
func (b *Backend) CheckRetention(ctx context.Context, mode storage.RetentionMode) error {
	if mode == storage.RetentionOff {
		return nil
	}
	bucket := aws.String(b.cfg.Bucket)
	ver, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bucket})
	if err != nil {
		return translate("check retention", b.cfg.Bucket, err)
	}
	if ver.Status != types.BucketVersioningStatusEnabled {
		return storage.Unsupported("s3 bucket "+b.cfg.Bucket, fmt.Sprintf("%s retention needs versioning, which is not enabled", mode),
			"enable versioning and Object Lock on the bucket: aws s3api put-bucket-versioning --versioning-configuration Status=Enabled, then put-object-lock-configuration --object-lock-configuration ObjectLockEnabled=Enabled")
	}
	lc, err := b.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: bucket})
	err = translate("check retention", b.cfg.Bucket, err)
	switch {
	case errors.Is(err, storage.ErrUnsupported): // ObjectLockConfigurationNotFoundError
	case err != nil:
		return err
	case lc.ObjectLockConfiguration != nil && lc.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled:
		b.lockChecked.Store(true)
		return nil
	}
	return storage.Unsupported("s3 bucket "+b.cfg.Bucket, fmt.Sprintf("%s retention needs S3 Object Lock, which is not enabled", mode),
		"enable it: aws s3api put-object-lock-configuration --bucket "+b.cfg.Bucket+" --object-lock-configuration ObjectLockEnabled=Enabled (or create the bucket with --object-lock-enabled-for-bucket)")
}

// SetLegalHold sets or clears the Object Lock legal hold of the current
// version. ErrNotExist if missing; ErrUnsupported if the bucket has no
// Object Lock.
func (b *Backend) SetLegalHold(ctx context.Context, key storage.Key, on bool) error {
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	_, err := b.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()),
		LegalHold: &types.ObjectLockLegalHold{Status: status},
	})
	return translate("legal hold", b.path(key), err)
}

// SetRetention puts one version of an existing object under Object Lock
// retention (PutObjectRetention on the version). S3 refuses to shorten a
// compliance retention, and a governance one without the bypass header,
// which is never sent.
func (b *Backend) SetRetention(ctx context.Context, key storage.Key, versionID string, r storage.Retention) error {
	if r.Mode == storage.RetentionOff || r.Until.IsZero() {
		return fmt.Errorf("s3 set retention %s: a mode and an until time are needed", b.path(key))
	}
	if err := b.checkLockFor(ctx, r); err != nil {
		return err
	}
	mode := types.ObjectLockRetentionModeGovernance
	if r.Mode == storage.RetentionCompliance {
		mode = types.ObjectLockRetentionModeCompliance
	}
	in := &s3.PutObjectRetentionInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()),
		Retention: &types.ObjectLockRetention{Mode: mode, RetainUntilDate: aws.Time(r.Until.UTC())}}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	_, err := b.client.PutObjectRetention(ctx, in)
	return translate("set retention", b.path(key), err)
}

// checkLockFor makes sure, once per Backend, that the bucket has Object
// Lock before the first Put that asks for retention: some servers
// (versitygw v1.7.0) store the object and only then refuse its lock
// settings, which would leave an unprotected object under the key.
func (b *Backend) checkLockFor(ctx context.Context, r storage.Retention) error {
	mode := r.Needs()
	if mode == storage.RetentionOff || b.lockChecked.Load() {
		return nil
	}
	if err := b.CheckRetention(ctx, mode); err != nil {
		return fmt.Errorf("s3 put: %w", err)
	}
	return nil
}

// withdrawUnprotected deletes the version a refused Put left behind on a
// server that stored it before refusing its lock settings: the current
// version, if it has the Put's SHA-256 and no retention.
func (b *Backend) withdrawUnprotected(ctx context.Context, key storage.Key, opts storage.PutOptions) {
	st, err := b.Stat(context.WithoutCancel(ctx), key)
	if err == nil && st.SHA256 == opts.SHA256 && st.Retention.Mode == storage.RetentionOff {
		_ = b.deleteVersion(context.WithoutCancel(ctx), key, st.VersionID)
	}
}

// lockFields are the Object Lock settings of a put, empty when r is off.
type lockFields struct {
	mode  types.ObjectLockMode
	until *time.Time
	hold  types.ObjectLockLegalHoldStatus
}

func lockFor(r storage.Retention) lockFields {
	var l lockFields
	switch r.Mode {
	case storage.RetentionGovernance:
		l.mode = types.ObjectLockModeGovernance
	case storage.RetentionCompliance:
		l.mode = types.ObjectLockModeCompliance
	}
	if l.mode != "" {
		l.until = aws.Time(r.Until.UTC())
	}
	if r.LegalHold {
		l.hold = types.ObjectLockLegalHoldStatusOn
	}
	return l
}

// retentionOf is the Retention S3 states for a version.
func retentionOf(mode types.ObjectLockMode, until *time.Time, hold types.ObjectLockLegalHoldStatus) storage.Retention {
	r := storage.Retention{LegalHold: hold == types.ObjectLockLegalHoldStatusOn}
	switch strings.ToUpper(string(mode)) {
	case string(types.ObjectLockModeGovernance):
		r.Mode = storage.RetentionGovernance
	case string(types.ObjectLockModeCompliance):
		r.Mode = storage.RetentionCompliance
	}
	if r.Mode != storage.RetentionOff {
		r.Until = aws.ToTime(until)
	}
	return r
}

// versionID is a version id as storage reports it: "" for none or for the
// "null" version of an unversioned bucket.
func versionID(v *string) string {
	if s := aws.ToString(v); s != "null" {
		return s
	}
	return ""
}

// optional is nil for "", so that a request without a version id asks for
// the current version.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// versionOp names an operation on a given version, so that errors on it
// are translated as such (see sentinelFor).
func versionOp(op, version string) string {
	if version == "" {
		return op
	}
	return op + " version"
}
