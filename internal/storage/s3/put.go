package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stratahq/strata/internal/storage"
)

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the Put's context is cancelled.
const abortTimeout = 30 * time.Second

// Put stores exactly opts.Size bytes from r under key, create-only.
//
// Objects up to PartSize bytes are read into memory, checked against
// opts.Size and opts.SHA256, and sent as one PutObject with If-None-Match: *
// and x-amz-checksum-sha256. Larger ones are a multipart upload (one part in
// memory, each with its SHA-256), completed with If-None-Match: * only when
// the whole stream matched; otherwise the upload is aborted and nothing is
// visible.
//
// It returns ErrExist (the existing object untouched) if the key is taken,
// ErrChecksum if r yields other bytes than opts promise, and ctx.Err() when
// cancelled. Put does not retry; a retry must supply the bytes again.
func (b *Backend) Put(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	meta, err := b.checkPut(key, opts)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("s3 put %s: %w", b.path(key), err)
	}
	if err := b.checkLockFor(ctx, opts.Retention); err != nil {
		return storage.ObjectInfo{}, err
	}
	if b.cfg.Endpoint != "" {
		defer b.puts.lock(key.String())()
	}
	var info storage.ObjectInfo
	if opts.Size <= b.partSize {
		info, err = b.putSingle(ctx, key, r, opts, meta)
	} else {
		info, err = b.putMultipart(ctx, key, r, opts, meta)
	}
	if errors.Is(err, storage.ErrUnsupported) {
		b.withdrawUnprotected(ctx, key, opts)
	}
	return info, err
}

// checkPut validates the caller's promises and builds the object metadata.
func (b *Backend) checkPut(key storage.Key, opts storage.PutOptions) (map[string]string, error) {
	if key.IsZero() {
		return nil, errors.New("empty key")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if parts := (opts.Size + b.partSize - 1) / b.partSize; parts > maxParts {
		return nil, fmt.Errorf("%d bytes need %d parts of %d bytes, over S3's %d; raise Options.PartSize", opts.Size, parts, b.partSize, maxParts)
	}
	meta := map[string]string{metaSHA256: opts.SHA256}
	for k, v := range opts.Metadata {
		if k == metaSHA256 {
			return nil, fmt.Errorf("metadata name %q is reserved: the backend records PutOptions.SHA256 under it", k)
		}
		if len(v) > 0 && (v[0] == ' ' || v[len(v)-1] == ' ') {
			return nil, fmt.Errorf("metadata %q: value has leading or trailing spaces, which HTTP would drop", k)
		}
		meta[k] = v
	}
	return meta, nil
}

func sha256B64(p []byte) (raw []byte, b64 string) {
	sum := sha256.Sum256(p)
	return sum[:], base64.StdEncoding.EncodeToString(sum[:])
}

func (b *Backend) putSingle(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions, meta map[string]string) (storage.ObjectInfo, error) {
	buf := make([]byte, opts.Size)
	in := storage.NewExactReader(r, opts)
	if err := in.Fill(buf); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("s3 put %s: %w", b.path(key), err)
	}
	if err := in.Finish(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("s3 put %s: %w", b.path(key), err)
	}
	_, sum := sha256B64(buf)
	lock := lockFor(opts.Retention)
	out, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    aws.String(b.cfg.Bucket),
		Key:                       aws.String(key.String()),
		Body:                      bytes.NewReader(buf),
		ContentLength:             aws.Int64(opts.Size),
		ChecksumSHA256:            aws.String(sum),
		Metadata:                  meta,
		IfNoneMatch:               aws.String("*"),
		ObjectLockMode:            lock.mode,
		ObjectLockRetainUntilDate: lock.until,
		ObjectLockLegalHoldStatus: lock.hold,
	})
	if err != nil {
		return storage.ObjectInfo{}, b.lostPut(ctx, key, opts, translate("put", b.path(key), err))
	}
	if err := b.settle(ctx, key, aws.ToString(out.VersionId)); err != nil {
		return storage.ObjectInfo{}, err
	}
	return putInfo(key, opts, aws.ToString(out.VersionId)), nil
}

// putInfo is what a successful Put returns.
func putInfo(key storage.Key, opts storage.PutOptions, version string) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: opts.Size, ModTime: modTime(), SHA256: opts.SHA256,
		VersionID: versionID(&version), Retention: opts.Retention}
}

// lostPut refines a put that failed without an answer. Some servers answer
// a create-only put to a taken key with 412 before reading the body and then
// drop the connection, which the client sees as a reset. If an object with
// other bytes now holds the key, this put cannot have written it: ErrExist.
// Otherwise err stands (the storage retry layer adopts an object with our
// SHA-256 after an ambiguous failure).
func (b *Backend) lostPut(ctx context.Context, key storage.Key, opts storage.PutOptions, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 0 {
		return err
	}
	st, serr := b.Stat(ctx, key)
	if serr == nil && st.SHA256 != opts.SHA256 {
		return fmt.Errorf("s3 put %s: %w (another writer's object, found after the connection dropped)", b.path(key), storage.ErrExist)
	}
	return err
}

// upload is one multipart upload in progress.
type upload struct {
	b     *Backend
	key   storage.Key
	id    string
	parts []types.CompletedPart
	sums  []byte // the parts' raw SHA-256s, for the composite checksum
}

func (b *Backend) putMultipart(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions, meta map[string]string) (storage.ObjectInfo, error) {
	if err := b.checkAbsent(ctx, key); err != nil {
		return storage.ObjectInfo{}, err
	}
	lock := lockFor(opts.Retention)
	out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:                    aws.String(b.cfg.Bucket),
		Key:                       aws.String(key.String()),
		Metadata:                  meta,
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
		ObjectLockMode:            lock.mode,
		ObjectLockRetainUntilDate: lock.until,
		ObjectLockLegalHoldStatus: lock.hold,
	})
	if err != nil {
		return storage.ObjectInfo{}, translate("put", b.path(key), err)
	}
	u := &upload{b: b, key: key, id: aws.ToString(out.UploadId)}
	if err := u.send(ctx, r, opts); err != nil {
		u.abort(ctx)
		return storage.ObjectInfo{}, err
	}
	version, err := u.complete(ctx)
	if err != nil {
		u.abort(ctx)
		return storage.ObjectInfo{}, err
	}
	if err := b.settle(ctx, key, version); err != nil {
		return storage.ObjectInfo{}, err
	}
	return putInfo(key, opts, version), nil
}

// send reads and uploads every part, then checks the whole stream.
func (u *upload) send(ctx context.Context, r io.Reader, opts storage.PutOptions) error {
	buf := make([]byte, u.b.partSize)
	in := storage.NewExactReader(r, opts)
	for in.N() < opts.Size {
		part := buf[:min(u.b.partSize, opts.Size-in.N())]
		if err := in.Fill(part); err != nil {
			return fmt.Errorf("s3 put %s: %w", u.b.path(u.key), err)
		}
		if err := u.uploadPart(ctx, part); err != nil {
			return err
		}
	}
	if err := in.Finish(); err != nil {
		return fmt.Errorf("s3 put %s: %w", u.b.path(u.key), err)
	}
	return nil
}

func (u *upload) uploadPart(ctx context.Context, part []byte) error {
	n := int32(len(u.parts) + 1)
	raw, sum := sha256B64(part)
	out, err := u.b.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:         aws.String(u.b.cfg.Bucket),
		Key:            aws.String(u.key.String()),
		UploadId:       aws.String(u.id),
		PartNumber:     aws.Int32(n),
		Body:           bytes.NewReader(part),
		ContentLength:  aws.Int64(int64(len(part))),
		ChecksumSHA256: aws.String(sum),
	})
	if err != nil {
		return translate("put", u.b.path(u.key), err)
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n), ChecksumSHA256: aws.String(sum)})
	u.sums = append(u.sums, raw...)
	return nil
}

// complete makes the parts the object, create-only, and checks the
// composite SHA-256 S3 computed over the parts it assembled against the one
// of the parts sent.
func (u *upload) complete(ctx context.Context) (version string, err error) {
	out, err := u.b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(u.b.cfg.Bucket),
		Key:             aws.String(u.key.String()),
		UploadId:        aws.String(u.id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
		IfNoneMatch:     aws.String("*"),
	})
	if err != nil {
		return "", translate("put", u.b.path(u.key), err)
	}
	_, want := sha256B64(u.sums)
	want = fmt.Sprintf("%s-%d", want, len(u.parts))
	if got := aws.ToString(out.ChecksumSHA256); got != "" && got != want {
		// S3 assembled other bytes than were sent: withdraw the object.
		_ = u.b.Delete(context.WithoutCancel(ctx), u.key)
		return "", &storage.RetryableError{Err: fmt.Errorf("s3 put %s: the stored object's composite SHA-256 %s differs from the parts' %s; the object was deleted", u.b.path(u.key), got, want)}
	}
	return aws.ToString(out.VersionId), nil
}

// abort discards the upload's parts, even when ctx is cancelled. A failure
// is left to the bucket's lifecycle rule for incomplete uploads.
func (u *upload) abort(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, _ = u.b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.b.cfg.Bucket), Key: aws.String(u.key.String()), UploadId: aws.String(u.id),
	})
}

// checkAbsent fails fast with ErrExist before a large upload to a taken key
// (the completion's If-None-Match is what guarantees it).
func (b *Backend) checkAbsent(ctx context.Context, key storage.Key) error {
	_, err := b.Stat(ctx, key)
	switch {
	case err == nil:
		return fmt.Errorf("s3 put %s: %w", b.path(key), storage.ErrExist)
	case errors.Is(err, storage.ErrNotExist):
		return nil
	}
	return translateOp("put", err)
}
