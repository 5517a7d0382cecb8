package azblob

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/stratahq/strata/internal/storage"
)

// version is one version of a key as a versioned listing states it.
type version struct {
	id        string // "" where the account keeps no versions
	retention storage.Retention
}

// Delete removes the key for good: the blob with its snapshots and, where
// the account keeps versions, every version. Deleting only the blob would
// leave its bytes behind as a previous version (and a protected one cannot
// be deleted anyway). If a version is still under an immutability policy or
// legal hold, Delete returns ErrImmutable before deleting anything (Azure
// refuses it too); a refusal from Azure midway is ErrImmutable as well.
// ErrNotExist if the key has no blob and no version.
func (b *Backend) Delete(ctx context.Context, key storage.Key) error {
	versions, err := b.versions(ctx, key)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return fmt.Errorf("azblob delete %s: %w", b.path(key), storage.ErrNotExist)
	}
	now := time.Now()
	for _, v := range versions {
		if v.retention.Active(now) {
			return fmt.Errorf("azblob delete %s: %w (version %q: %s until %s, legal hold %t)", b.path(key), storage.ErrImmutable,
				v.id, v.retention.Mode, v.retention.Until.Format(time.RFC3339), v.retention.LegalHold)
		}
	}
	_, err = b.blobClient(key).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude)})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return translate("delete", b.path(key), err)
	}
	for _, v := range versions {
		if v.id == "" {
			continue
		}
		c, err := b.versionClient(key, v.id)
		if err == nil {
			_, err = c.Delete(ctx, nil)
		}
		if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
			return translate("delete", b.path(key)+" version "+v.id, err)
		}
	}
	return nil
}

// versions lists the key's versions (its one blob where the account keeps
// none) with their immutability policies and legal holds.
func (b *Backend) versions(ctx context.Context, key storage.Key) ([]version, error) {
	pager := b.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix:  to.Ptr(key.String()),
		Include: container.ListBlobsInclude{Versions: true, ImmutabilityPolicy: true, LegalHold: true},
	})
	var out []version
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, translate("delete", b.path(key), err)
		}
		for _, it := range page.Segment.BlobItems {
			if it == nil || deref(it.Name) != key.String() {
				continue
			}
			v := version{id: deref(it.VersionID)}
			if p := it.Properties; p != nil {
				v.retention = retentionOf((*string)(p.ImmutabilityPolicyMode), p.ImmutabilityPolicyExpiresOn, p.LegalHold)
			}
			out = append(out, v)
		}
	}
	return out, nil
}
