// Package s3 is the storage.Backend for Amazon S3 and S3-compatible stores
// (versitygw, MinIO, Ceph RGW...).
//
// A backend is opened from a storage URL,
//
//	s3://BUCKET?region=REGION[&endpoint=URL][&path_style=true]
//
// with credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN) when set, else the AWS SDK's default chain (shared
// config and profiles, web identity, container and instance roles).
//
// Writes are create-only (If-None-Match: *) and never partially visible:
// objects up to PartSize go up as one PutObject whose SHA-256 is checked in
// memory first and sent as x-amz-checksum-sha256 for S3 to check again.
// Larger ones are a multipart upload, each part with its own SHA-256
// checksum; the upload is completed (create-only) only when the byte count
// and SHA-256 of the whole stream match PutOptions, and the composite
// checksum S3 returns is compared with the one computed from the parts sent.
// Otherwise the upload is aborted: parts of an unfinished upload are never
// visible. The SHA-256 is kept in the object's metadata ("sha256").
//
// Against an S3-compatible server (an endpoint in the URL) whose
// If-None-Match check is not atomic with the write (versitygw's is not), a
// process serialises its own puts of one key, and a put whose version is not
// the key's first on a versioned bucket withdraws it and reports ErrExist
// (see settle). AWS's conditional writes are atomic and need neither.
//
// With PutOptions.Retention the put carries S3 Object Lock's mode,
// retain-until date and legal hold; Delete removes every version of a key
// by id (see delete.go), so that Object Lock, not a delete marker, decides.
//
// The bucket must exist (Strata never creates buckets: versioning and Object
// Lock are the bucket owner's choice). The SDK's retries are disabled: errors
// come back at once as *Error, which tells the storage retry layer whether
// and when to retry.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratahq/strata/internal/storage"
)

const (
	// DefaultPartSize is the size of a multipart upload's parts; a Put holds
	// one part in memory at a time.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest part (all but the last).
	MinPartSize = 5 << 20
	// maxParts is S3's limit of parts per upload.
	maxParts = 10_000
	// metaSHA256 is the metadata name under which Put records the SHA-256.
	metaSHA256 = "sha256"
)

// Options tune a Backend. The zero value is ready for production.
type Options struct {
	// Transport carries every HTTP request (nil: the SDK's default). Tests
	// inject one to record requests or fail them on demand.
	Transport http.RoundTripper
	// PartSize is the size of multipart parts (0: DefaultPartSize; at
	// least MinPartSize). Objects up to PartSize go up in one PutObject.
	PartSize int64
}

// Backend stores objects in one bucket. It is safe for concurrent use.
type Backend struct {
	cfg      Config
	client   *s3.Client
	partSize int64
	// listPageSize bounds a List page (0: the service's 1,000).
	listPageSize int32
	// puts serialises this process's puts of one key on S3-compatible
	// servers (an endpoint in the URL); see settle.
	puts keyLocks
	// lockChecked is set once CheckRetention has found Object Lock enabled;
	// until then a Put with retention checks first (see putChecked).
	lockChecked atomic.Bool
}

var _ storage.Backend = (*Backend)(nil)

// FromURL opens the backend for u (see the package doc) with credentials
// looked up through env (os.Getenv in production) and then the SDK's default
// chain. It does no network I/O; a wrong credential shows on the first call.
func FromURL(ctx context.Context, u *url.URL, env func(string) string) (*Backend, error) {
	return Open(ctx, u, env, Options{})
}

// Open is FromURL with Options.
func Open(ctx context.Context, u *url.URL, env func(string) string, opts Options) (*Backend, error) {
	cfg, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, env, opts)
}

// New opens the backend for cfg; see FromURL.
func New(ctx context.Context, cfg Config, env func(string) string, opts Options) (*Backend, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	b := &Backend{cfg: cfg, partSize: opts.PartSize}
	if b.partSize == 0 {
		b.partSize = DefaultPartSize
	}
	if b.partSize < MinPartSize || b.partSize > 5<<30 {
		return nil, fmt.Errorf("s3: PartSize %d is outside S3's limits of %d bytes to 5 GiB", b.partSize, MinPartSize)
	}
	var err error
	if b.client, err = newClient(ctx, cfg, env, opts); err != nil {
		return nil, err
	}
	return b, nil
}

// Config returns where the backend stores objects.
func (b *Backend) Config() Config { return b.cfg }

// Client returns the SDK client, for tests and start-up checks that need
// calls outside storage.Backend (bucket settings).
func (b *Backend) Client() *s3.Client { return b.client }

// Caps reports create-only puts, stored metadata, versions, and retention
// and legal holds through S3 Object Lock (which the bucket must have
// enabled: CheckRetention says whether it has).
func (b *Backend) Caps() storage.Caps {
	return storage.Caps{CreateOnly: true, Retention: true, WORM: true, Versions: true, LegalHold: true, Metadata: true, Name: "s3"}
}

func (b *Backend) path(key storage.Key) string { return b.cfg.Bucket + "/" + key.String() }

// Get opens the whole object. ErrNotExist if missing. The caller closes it.
func (b *Backend) Get(ctx context.Context, key storage.Key) (io.ReadCloser, error) {
	return b.download(ctx, key, "", "")
}

// GetRange opens length bytes from offset (length < 0: to the end). A range
// that starts at or past the end yields no bytes. ErrNotExist if missing.
func (b *Backend) GetRange(ctx context.Context, key storage.Key, offset, length int64) (io.ReadCloser, error) {
	return b.GetVersionRange(ctx, key, "", offset, length)
}

// GetVersionRange is GetRange of the version versionID ("" the current
// one). ErrNotExist if the key or the version is missing.
func (b *Backend) GetVersionRange(ctx context.Context, key storage.Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("s3 get %s: negative offset %d", b.path(key), offset)
	}
	if length == 0 {
		if _, err := b.head(ctx, "get", key, versionID); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	r := fmt.Sprintf("bytes=%d-", offset)
	if length > 0 {
		r += fmt.Sprint(offset + length - 1)
	}
	rc, err := b.download(ctx, key, versionID, r)
	var e *Error
	if errors.As(err, &e) && (e.StatusCode == http.StatusRequestedRangeNotSatisfiable || e.Code == "InvalidRange") {
		// The range starts at or after the end; report missing objects.
		if _, serr := b.head(ctx, "get", key, versionID); serr != nil {
			return nil, serr
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	return rc, err
}

func (b *Backend) download(ctx context.Context, key storage.Key, version, rng string) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()), VersionId: optional(version)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, translate(versionOp("get", version), b.path(key), err)
	}
	return &body{rc: out.Body, path: b.path(key)}, nil
}

// body translates errors met while reading a download (a reset connection
// becomes a retryable *Error).
type body struct {
	rc   io.ReadCloser
	path string
}

func (r *body) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = translate("get", r.path, err)
	}
	return n, err
}

func (r *body) Close() error { return r.rc.Close() }

// Stat returns the current version's size, modification time, recorded
// SHA-256, metadata, version id and Object Lock retention and legal hold.
// ErrNotExist if missing.
func (b *Backend) Stat(ctx context.Context, key storage.Key) (storage.ObjectInfo, error) {
	return b.head(ctx, "stat", key, "")
}

// head is Stat of one version ("" the current one).
func (b *Backend) head(ctx context.Context, op string, key storage.Key, version string) (storage.ObjectInfo, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()), VersionId: optional(version)})
	if err != nil {
		return storage.ObjectInfo{}, translate(versionOp(op, version), b.path(key), err)
	}
	sha, meta := splitMetadata(out.Metadata)
	return storage.ObjectInfo{
		Key:       key,
		Size:      aws.ToInt64(out.ContentLength),
		ModTime:   aws.ToTime(out.LastModified),
		SHA256:    sha,
		Metadata:  meta,
		VersionID: versionID(out.VersionId),
		Retention: retentionOf(out.ObjectLockMode, out.ObjectLockRetainUntilDate, out.ObjectLockLegalHoldStatus),
	}, nil
}

// List calls fn once per object under the folder prefix, in lexical order,
// using a flat listing of "prefix/" (one request per 1,000 objects). An
// object whose name is not a valid storage.Key (put there by something other
// than Strata) stops the listing with an error, rather than being hidden.
func (b *Backend) List(ctx context.Context, prefix storage.Key, fn func(storage.ObjectInfo) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.cfg.Bucket)}
	if !prefix.IsZero() {
		in.Prefix = aws.String(prefix.String() + "/")
	}
	if b.listPageSize > 0 {
		in.MaxKeys = aws.Int32(b.listPageSize)
	}
	pager := s3.NewListObjectsV2Paginator(b.client, in)
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return translate("list", b.cfg.Bucket+"/"+prefix.String(), err)
		}
		for _, obj := range page.Contents {
			name := aws.ToString(obj.Key)
			if strings.HasSuffix(name, "/") {
				continue // a folder marker made by a console or another tool
			}
			key, err := storage.ParseKey(name)
			if err != nil {
				return fmt.Errorf("s3 list %s: object %q: %w", b.cfg.Bucket, name, err)
			}
			info := storage.ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// translateOp relabels a translated error with another operation.
func translateOp(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Op = op
		return &c
	}
	return err
}

// splitMetadata separates the recorded SHA-256 from the user metadata, names
// in lower case (Put accepts only lower-case names).
func splitMetadata(m map[string]string) (sha string, meta map[string]string) {
	for k, v := range m {
		k = strings.ToLower(k)
		if k == metaSHA256 {
			sha = v
			continue
		}
		if meta == nil {
			meta = make(map[string]string, len(m))
		}
		meta[k] = v
	}
	return sha, meta
}

// modTime is now: PutObject and CompleteMultipartUpload return no
// Last-Modified.
func modTime() time.Time { return time.Now().UTC() }
