package azblob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/stratahq/strata/internal/storage"
)

// Put stores exactly opts.Size bytes from r under key, create-only.
//
// Objects up to MaxSingleUpload bytes are read into memory, checked against
// opts.Size and opts.SHA256, and sent as one Put Blob with Content-MD5 and
// If-None-Match: *. Larger ones are staged block by block (one block in
// memory, each with a transactional MD5) and the block list is committed with
// If-None-Match: * only when the whole stream matched; otherwise the staged
// blocks stay uncommitted, invisible, and Azure discards them.
//
// It returns ErrExist (the existing blob untouched) if the key is taken,
// ErrChecksum if r yields other bytes than opts promise, and ctx.Err() when
// cancelled, in every case with nothing visible under key. Put does not
// retry; a retry must supply the bytes again from the start.
func (b *Backend) Put(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	meta, err := b.checkPut(key, opts)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("azblob put %s: %w", b.path(key), err)
	}
	if err := b.checkVLWFor(ctx, opts.Retention); err != nil {
		return storage.ObjectInfo{}, err
	}
	var info storage.ObjectInfo
	if opts.Size <= b.singleMax {
		info, err = b.putSingle(ctx, key, r, opts, meta)
	} else {
		info, err = b.putBlocks(ctx, key, r, opts, meta)
	}
	if errors.Is(err, storage.ErrExist) {
		b.finishLock(ctx, key, opts)
	}
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if opts.Retention.Mode == storage.RetentionCompliance {
		if err := b.lock(ctx, key, info.VersionID, opts.Retention.Until); err != nil {
			return storage.ObjectInfo{}, err // retryable when the failure was: a retry's ErrExist locks it
		}
	}
	return info, nil
}

// putInfo is what a successful upload returns.
func putInfo(key storage.Key, opts storage.PutOptions, lastModified *time.Time, version *string) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: opts.Size, ModTime: modTime(lastModified), SHA256: opts.SHA256,
		VersionID: deref(version), Retention: opts.Retention}
}

// checkPut validates the caller's promises and builds the blob metadata.
func (b *Backend) checkPut(key storage.Key, opts storage.PutOptions) (map[string]*string, error) {
	if key.IsZero() {
		return nil, errors.New("empty key")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if blocks := (opts.Size + b.blockSize - 1) / b.blockSize; blocks > maxBlocks {
		return nil, fmt.Errorf("%d bytes need %d blocks of %d bytes, over Azure's %d; raise Options.BlockSize", opts.Size, blocks, b.blockSize, maxBlocks)
	}
	meta := map[string]*string{metaSHA256: to.Ptr(opts.SHA256)}
	for k, v := range opts.Metadata {
		if err := checkMetadata(k, v); err != nil {
			return nil, err
		}
		if k == metaSHA256 {
			return nil, fmt.Errorf("metadata name %q is reserved: the backend records PutOptions.SHA256 under it", k)
		}
		meta[k] = to.Ptr(v)
	}
	return meta, nil
}

// checkMetadata adds Azure's own limits to PutOptions.Validate: HTTP would
// silently drop a value's surrounding spaces, so such values are refused.
func checkMetadata(k, v string) error {
	if len(v) > 0 && (v[0] == ' ' || v[len(v)-1] == ' ') {
		return fmt.Errorf("metadata %q: value has leading or trailing spaces, which HTTP would drop", k)
	}
	return nil
}

// hasher reads what Put was promised (storage.ExactReader: size and
// SHA-256), and also hashes it with MD5 to let Azure check the whole blob
// (Content-MD5 property).
type hasher struct {
	in  *storage.ExactReader
	md5 hash.Hash
}

func newHasher(r io.Reader, opts storage.PutOptions) *hasher {
	h := &hasher{md5: md5.New()}
	h.in = storage.NewExactReader(r, opts, h.md5)
	return h
}

// readBlock fills buf from the stream.
func (b *Backend) readBlock(key storage.Key, buf []byte, h *hasher) error {
	if err := h.in.Fill(buf); err != nil {
		return fmt.Errorf("azblob put %s: %w", b.path(key), err)
	}
	return nil
}

// verify checks that the stream is exhausted and matches opts.
func (b *Backend) verify(key storage.Key, h *hasher) error {
	if err := h.in.Finish(); err != nil {
		return fmt.Errorf("azblob put %s: %w", b.path(key), err)
	}
	return nil
}

// ifNoneMatchAny makes a write fail if the blob exists (create-only).
func ifNoneMatchAny() *blob.AccessConditions {
	return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}}
}

func (b *Backend) putSingle(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions, meta map[string]*string) (storage.ObjectInfo, error) {
	buf := make([]byte, opts.Size)
	h := newHasher(r, opts)
	if err := b.readBlock(key, buf, h); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := b.verify(key, h); err != nil {
		return storage.ObjectInfo{}, err
	}
	until, mode, hold := policyFor(opts.Retention)
	upload := func() (blockblob.UploadResponse, error) {
		return b.blobClient(key).Upload(ctx, streaming.NopCloser(bytes.NewReader(buf)), &blockblob.UploadOptions{
			Metadata:                     meta,
			TransactionalValidation:      blob.TransferValidationTypeMD5(h.md5.Sum(nil)),
			AccessConditions:             ifNoneMatchAny(),
			ImmutabilityPolicyExpiryTime: until,
			ImmutabilityPolicyMode:       mode,
			LegalHold:                    hold,
		})
	}
	resp, err := upload()
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		if err = b.EnsureContainer(ctx); err == nil {
			resp, err = upload()
		}
	}
	if bloberror.HasCode(err, bloberror.BlobAlreadyExists) {
		// A blob holding only uncommitted blocks (from an earlier failed
		// or interrupted Put) is invisible, yet some servers (Azurite)
		// refuse a create-only Put Blob on it. Put Block List is the
		// operation made for that state, so commit through it.
		if _, serr := b.Stat(ctx, key); errors.Is(serr, storage.ErrNotExist) {
			return b.stageAndCommit(ctx, key, buf, h, opts, meta)
		}
	}
	if err != nil {
		return storage.ObjectInfo{}, translate("put", b.path(key), err)
	}
	return putInfo(key, opts, resp.LastModified, resp.VersionID), nil
}

// stageAndCommit writes an already verified buffer as one staged block.
func (b *Backend) stageAndCommit(ctx context.Context, key storage.Key, buf []byte, h *hasher, opts storage.PutOptions, meta map[string]*string) (storage.ObjectInfo, error) {
	var ids []string
	if len(buf) > 0 {
		id := blockID(rand.Text(), 0)
		if err := b.stage(ctx, key, id, buf); err != nil {
			return storage.ObjectInfo{}, translate("put", b.path(key), err)
		}
		ids = append(ids, id)
	}
	return b.commit(ctx, key, ids, h, opts, meta)
}

// blockID names block n of one upload. All ids of a blob have one length.
func blockID(uploadID string, n int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", uploadID, n))
}

// stage uploads one block with its transactional MD5.
func (b *Backend) stage(ctx context.Context, key storage.Key, id string, block []byte) error {
	sum := md5.Sum(block)
	_, err := b.blobClient(key).StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(block)),
		&blockblob.StageBlockOptions{TransactionalValidation: blob.TransferValidationTypeMD5(sum[:])})
	return err
}

// commit makes the staged blocks the blob, create-only, with the metadata
// and the whole content's MD5 as the blob's Content-MD5.
func (b *Backend) commit(ctx context.Context, key storage.Key, ids []string, h *hasher, opts storage.PutOptions, meta map[string]*string) (storage.ObjectInfo, error) {
	until, mode, hold := policyFor(opts.Retention)
	resp, err := b.blobClient(key).CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		Metadata:                     meta,
		HTTPHeaders:                  &blob.HTTPHeaders{BlobContentMD5: h.md5.Sum(nil)},
		AccessConditions:             ifNoneMatchAny(),
		ImmutabilityPolicyExpiryTime: until,
		ImmutabilityPolicyMode:       mode,
		LegalHold:                    hold,
	})
	if err != nil {
		return storage.ObjectInfo{}, translate("put", b.path(key), err)
	}
	return putInfo(key, opts, resp.LastModified, resp.VersionID), nil
}

func (b *Backend) putBlocks(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions, meta map[string]*string) (storage.ObjectInfo, error) {
	if err := b.checkAbsent(ctx, key); err != nil {
		return storage.ObjectInfo{}, err
	}
	// A random upload id in every block id keeps two concurrent Puts of one
	// key from mixing their uncommitted blocks; the loser's commit fails.
	uploadID := rand.Text()
	buf := make([]byte, b.blockSize)
	h := newHasher(r, opts)
	var ids []string
	for h.in.N() < opts.Size {
		block := buf[:min(b.blockSize, opts.Size-h.in.N())]
		if err := b.readBlock(key, block, h); err != nil {
			return storage.ObjectInfo{}, err
		}
		id := blockID(uploadID, len(ids))
		err := b.stage(ctx, key, id, block)
		if len(ids) == 0 && bloberror.HasCode(err, bloberror.ContainerNotFound) {
			if err = b.EnsureContainer(ctx); err == nil {
				err = b.stage(ctx, key, id, block)
			}
		}
		if err != nil {
			return storage.ObjectInfo{}, translate("put", b.path(key), err)
		}
		ids = append(ids, id)
	}
	if err := b.verify(key, h); err != nil {
		return storage.ObjectInfo{}, err // blocks stay uncommitted: invisible
	}
	return b.commit(ctx, key, ids, h, opts, meta)
}

// checkAbsent fails fast with ErrExist before a large upload to a taken key
// (the commit's If-None-Match is what guarantees it), and creates a missing
// container.
func (b *Backend) checkAbsent(ctx context.Context, key storage.Key) error {
	_, err := b.blobClient(key).GetProperties(ctx, nil)
	switch {
	case err == nil:
		return fmt.Errorf("azblob put %s: %w", b.path(key), storage.ErrExist)
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return b.EnsureContainer(ctx)
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return nil
	}
	terr := translate("put", b.path(key), err)
	if errors.Is(terr, storage.ErrNotExist) {
		return nil // a HEAD 404 without an error code
	}
	return terr
}
