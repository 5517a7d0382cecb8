// Package azblob is the storage.Backend for Azure Blob Storage, including ADLS
// Gen2 accounts (hierarchical namespace) reached through their Blob endpoint.
//
// A backend is opened from a storage URL,
//
//	azblob://CONTAINER?account=NAME[&endpoint=URL]
//
// with credentials taken from the environment, first found wins:
// AZURE_STORAGE_CONNECTION_STRING (its endpoint is used), AZURE_STORAGE_KEY
// (shared key for the account), AZURE_STORAGE_SAS_TOKEN, else the Azure
// default credential chain (managed identity, workload identity, az login).
// The endpoint defaults to https://NAME.blob.core.windows.net; tests point it
// at Azurite (http://127.0.0.1:PORT/devstoreaccount1).
//
// Writes are create-only (If-None-Match: *) and never partially visible:
// small objects go up as one Put Blob with Content-MD5 after their SHA-256 is
// checked in memory; larger ones are staged as blocks, each with a
// transactional MD5, and the block list is committed only when the byte count
// and SHA-256 match PutOptions. Uncommitted blocks are invisible and garbage
// collected by Azure. The SHA-256 is kept in the blob's metadata ("sha256"),
// so Stat and List report it.
//
// With PutOptions.Retention the upload carries a version-level immutability
// policy (see retention.go); Delete removes the blob and every version.
//
// The SDK's retries are disabled: errors are returned at once as *Error,
// which tells the storage retry layer whether and when to retry.
//
// The container is created on the first Put that finds it missing (an
// existing container needs no create permission); EnsureContainer does the
// same explicitly, e.g. at start-up.
package azblob

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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/stratahq/strata/internal/storage"
)

const (
	// DefaultBlockSize is the size of the blocks a large Put stages; a Put
	// holds one block in memory at a time.
	DefaultBlockSize = 8 << 20
	// maxBlocks is Azure's limit of committed blocks per blob.
	maxBlocks = 50_000
	// metaSHA256 is the metadata name under which Put records the SHA-256.
	metaSHA256 = "sha256"
)

// Options tune a Backend. The zero value is ready for production.
type Options struct {
	// Transport carries every HTTP request (nil: the SDK's default). Tests
	// inject one to record headers or fail requests on demand.
	Transport http.RoundTripper
	// BlockSize is the size of staged blocks (0: DefaultBlockSize).
	BlockSize int64
	// MaxSingleUpload is the largest object sent as one Put Blob request
	// (0: BlockSize). Larger objects are staged in blocks.
	MaxSingleUpload int64
}

// Backend stores objects as block blobs in one container. It is safe for
// concurrent use.
type Backend struct {
	cfg       Config
	client    *container.Client
	blockSize int64
	singleMax int64
	// listPageSize bounds a List page (0: the service's 5,000); tests
	// lower it to exercise pagination.
	listPageSize int32
	// vlwChecked is set once CheckRetention has found version-level
	// immutability on the container; until then a Put with retention
	// checks first (see checkVLWFor).
	vlwChecked atomic.Bool
}

var _ storage.Backend = (*Backend)(nil)

// FromURL opens the backend for u (azblob://CONTAINER?account=NAME
// [&endpoint=URL]) with credentials looked up through env, which is
// os.Getenv in production. It does no network I/O; a wrong credential shows
// up on the first call.
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
func New(_ context.Context, cfg Config, env func(string) string, opts Options) (*Backend, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	if opts.BlockSize < 0 || opts.MaxSingleUpload < 0 {
		return nil, errors.New("azblob: BlockSize and MaxSingleUpload must not be negative")
	}
	if opts.BlockSize > blockblob.MaxStageBlockBytes {
		return nil, fmt.Errorf("azblob: BlockSize %d is over Azure's limit of %d bytes", opts.BlockSize, int64(blockblob.MaxStageBlockBytes))
	}
	b := &Backend{cfg: cfg, blockSize: opts.BlockSize, singleMax: opts.MaxSingleUpload}
	if b.blockSize == 0 {
		b.blockSize = DefaultBlockSize
	}
	if b.singleMax == 0 {
		b.singleMax = b.blockSize
	}
	if b.singleMax > blockblob.MaxUploadBlobBytes {
		b.singleMax = blockblob.MaxUploadBlobBytes
	}
	var err error
	if b.client, err = newContainerClient(cfg, env, opts); err != nil {
		return nil, err
	}
	return b, nil
}

// Config returns where the backend stores objects.
func (b *Backend) Config() Config { return b.cfg }

// Caps reports create-only puts, stored metadata, versions (filled where
// the account has blob versioning on), and retention and legal holds
// through version-level immutability (which the container must support:
// CheckRetention says whether it does).
func (b *Backend) Caps() storage.Caps {
	return storage.Caps{CreateOnly: true, Retention: true, WORM: true, Versions: true, LegalHold: true, Metadata: true, Name: "azblob"}
}

// EnsureContainer creates the container if it does not exist. An existing
// container is left as it is.
func (b *Backend) EnsureContainer(ctx context.Context) error {
	_, err := b.client.Create(ctx, nil)
	if err == nil || bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil
	}
	if bloberror.HasCode(err, bloberror.ContainerBeingDeleted) {
		return fmt.Errorf("azblob create container %s: it is being deleted; retry in a minute: %w", b.cfg.Container, translate("create", b.cfg.Container, err))
	}
	return translate("create", b.cfg.Container, err)
}

func (b *Backend) path(key storage.Key) string { return b.cfg.Container + "/" + key.String() }

func (b *Backend) blobClient(key storage.Key) *blockblob.Client {
	return b.client.NewBlockBlobClient(key.String())
}

// Get opens the whole object. ErrNotExist if missing. The caller closes it.
func (b *Backend) Get(ctx context.Context, key storage.Key) (io.ReadCloser, error) {
	return b.download(ctx, key, "", blob.HTTPRange{})
}

// GetRange opens length bytes from offset (length < 0: to the end). A range
// that starts at or past the end yields no bytes. ErrNotExist if missing.
func (b *Backend) GetRange(ctx context.Context, key storage.Key, offset, length int64) (io.ReadCloser, error) {
	return b.GetVersionRange(ctx, key, "", offset, length)
}

func (b *Backend) download(ctx context.Context, key storage.Key, version string, r blob.HTTPRange) (io.ReadCloser, error) {
	c, err := b.versionClient(key, version)
	if err != nil {
		return nil, err
	}
	resp, err := c.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: r})
	if err != nil {
		return nil, translate("get", b.path(key), err)
	}
	return &body{rc: resp.Body, op: "get", path: b.path(key)}, nil
}

// body translates errors met while reading a download (a reset connection
// becomes a retryable *Error).
type body struct {
	rc       io.ReadCloser
	op, path string
}

func (r *body) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = translate(r.op, r.path, err)
	}
	return n, err
}

func (r *body) Close() error { return r.rc.Close() }

// Stat returns the current version's size, modification time, recorded
// SHA-256, metadata, version id (where the account keeps versions), and
// immutability policy and legal hold. ErrNotExist if missing.
func (b *Backend) Stat(ctx context.Context, key storage.Key) (storage.ObjectInfo, error) {
	return b.stat(ctx, key, "")
}

// stat is Stat of one version ("" the current one).
func (b *Backend) stat(ctx context.Context, key storage.Key, version string) (storage.ObjectInfo, error) {
	c, err := b.versionClient(key, version)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	p, err := c.GetProperties(ctx, nil)
	if err != nil {
		return storage.ObjectInfo{}, translate("stat", b.path(key), err)
	}
	return storage.ObjectInfo{
		Key:       key,
		Size:      deref(p.ContentLength),
		ModTime:   deref(p.LastModified),
		SHA256:    metaValue(p.Metadata, metaSHA256),
		Metadata:  userMetadata(p.Metadata),
		VersionID: deref(p.VersionID),
		Retention: retentionOf((*string)(p.ImmutabilityPolicyMode), p.ImmutabilityPolicyExpiresOn, p.LegalHold),
	}, nil
}

// List calls fn once per object under the folder prefix, in lexical order,
// using a flat listing of "prefix/" (one request per 5,000 objects). A
// missing container lists nothing. ADLS Gen2 directory entries are skipped. A
// blob whose name is not a valid storage.Key (put there by something other
// than Strata) stops the listing with an error, rather than being hidden.
func (b *Backend) List(ctx context.Context, prefix storage.Key, fn func(storage.ObjectInfo) error) error {
	opts := &container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}}
	if b.listPageSize > 0 {
		opts.MaxResults = to.Ptr(b.listPageSize)
	}
	if !prefix.IsZero() {
		opts.Prefix = to.Ptr(prefix.String() + "/")
	}
	pager := b.client.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil
		}
		if err != nil {
			return translate("list", b.cfg.Container+"/"+prefix.String(), err)
		}
		for _, item := range page.Segment.BlobItems {
			if item == nil || item.Name == nil || strings.EqualFold(metaValue(item.Metadata, "hdi_isfolder"), "true") {
				continue
			}
			key, err := storage.ParseKey(*item.Name)
			if err != nil {
				return fmt.Errorf("azblob list %s: blob %q: %w", b.cfg.Container, *item.Name, err)
			}
			info := storage.ObjectInfo{Key: key, SHA256: metaValue(item.Metadata, metaSHA256), Metadata: userMetadata(item.Metadata)}
			if p := item.Properties; p != nil {
				info.Size, info.ModTime = deref(p.ContentLength), deref(p.LastModified)
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// metaValue looks a metadata name up case-insensitively: Go canonicalises
// the x-ms-meta-* header names the SDK reads metadata from.
func metaValue(m map[string]*string, name string) string {
	for k, v := range m {
		if strings.EqualFold(k, name) && v != nil {
			return *v
		}
	}
	return ""
}

// userMetadata is the blob's metadata without the recorded hash, names in
// lower case (Put accepts only lower-case names; Go's header handling
// capitalises them on the way back).
func userMetadata(m map[string]*string) map[string]string {
	var out map[string]string
	for k, v := range m {
		k = strings.ToLower(k)
		if k == metaSHA256 || v == nil {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(m))
		}
		out[k] = *v
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// modTime is the Last-Modified of a response, or now if it had none.
func modTime(t *time.Time) time.Time {
	if t == nil {
		return time.Now().UTC()
	}
	return *t
}
