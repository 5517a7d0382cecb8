package azblob

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/stratahq/strata/internal/storage"
)

// Retention on Azure is version-level immutability (version-level WORM):
// Put sends the retain-until date as the blob's immutability policy
// (x-ms-immutability-policy-until-date) with mode Unlocked
// (x-ms-immutability-policy-mode), and a legal hold (x-ms-legal-hold) when
// asked. Unlocked is Azure's governance: nobody can delete or overwrite the
// version before the date, but whoever may change policies can shorten or
// remove it. For compliance the policy is then locked (Set Blob
// Immutability Policy, mode Locked) once the upload is complete: a locked
// policy can be extended, never shortened or removed.
//
// A crash between the upload and the lock leaves a complete blob whose
// policy is Unlocked with the right date: protected, but only at governance
// strength. Stat reports it as governance, so verify flags it against the
// compliance asked for; and the next Put of the same object (a retry, or
// the next run) finds the blob, sees its own SHA-256 under an Unlocked
// policy, locks it, and reports ErrExist as for any existing object, which
// the caller adopts as its own.

// CheckRetention checks that the container can hold every object under
// mode: it must support version-level immutability
// (x-ms-immutable-storage-with-versioning-enabled, which needs blob
// versioning on the account). An ADLS Gen2 account (hierarchical
// namespace) has no version-level immutability, only container-level WORM
// that an administrator sets: the error says so. Azurite implements none
// of it, and the error names the missing feature.
func (b *Backend) CheckRetention(ctx context.Context, mode storage.RetentionMode) error {
	if mode == storage.RetentionOff {
		return nil
	}
	what := "azblob container " + b.cfg.Container
	props, err := b.client.GetProperties(ctx, nil)
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return storage.Unsupported(what, fmt.Sprintf("%s retention needs a container with version-level immutability support, and the container does not exist", mode),
			"create it with version-level immutability: az storage container-rm create --storage-account ACCOUNT --name "+b.cfg.Container+" --enable-vlw true (blob versioning must be on for the account)")
	case err != nil:
		return translate("check retention", b.cfg.Container, err)
	}
	if hns, err := b.hierarchical(ctx); err != nil {
		return err
	} else if hns {
		fix := "set archive.immutability: off and have an administrator set and lock a time-based retention policy on the container, at least as long as archive.retention"
		if deref(props.HasImmutabilityPolicy) {
			fix = "this container has a container-level policy, which protects its blobs; set archive.immutability: off and rely on it"
		}
		return storage.Unsupported(what, "the account is ADLS Gen2 (hierarchical namespace), which supports only container-level WORM set by an administrator, not the version-level immutability Strata sets per object", fix)
	}
	if !deref(props.IsImmutableStorageWithVersioningEnabled) {
		return storage.Unsupported(what, fmt.Sprintf("%s retention needs version-level immutability support on the container (x-ms-immutable-storage-with-versioning-enabled), which it does not have", mode),
			"enable it: az storage container-rm update --storage-account ACCOUNT --name "+b.cfg.Container+" --enable-vlw true (blob versioning must be on for the account; Azurite has no immutability at all)")
	}
	b.vlwChecked.Store(true)
	return nil
}

// hierarchical reports whether the account has a hierarchical namespace.
// A store that cannot answer (501, or a SAS without account rights) is
// taken as flat: the container check that follows still decides.
func (b *Backend) hierarchical(ctx context.Context) (bool, error) {
	info, err := b.client.GetAccountInfo(ctx, nil)
	if err == nil {
		return deref(info.IsHierarchicalNamespaceEnabled), nil
	}
	if terr := translate("check retention", b.cfg.Container, err); storage.IsRetryable(terr) {
		return false, terr
	}
	return false, nil
}

// checkVLWFor makes sure, once per Backend, that the container has
// version-level immutability before the first Put that asks for retention:
// a store without it (Azurite) stores the blob and ignores the policy.
func (b *Backend) checkVLWFor(ctx context.Context, r storage.Retention) error {
	mode := r.Needs()
	if mode == storage.RetentionOff || b.vlwChecked.Load() {
		return nil
	}
	if err := b.CheckRetention(ctx, mode); err != nil {
		return fmt.Errorf("azblob put: %w", err)
	}
	return nil
}

// policyFor is the immutability policy and legal hold a Put sends.
func policyFor(r storage.Retention) (until *time.Time, mode *blob.ImmutabilityPolicySetting, hold *bool) {
	if r.Mode != storage.RetentionOff {
		until = to.Ptr(r.Until.UTC())
		mode = to.Ptr(blob.ImmutabilityPolicySettingUnlocked)
	}
	if r.LegalHold {
		hold = to.Ptr(true)
	}
	return until, mode, hold
}

// lock locks the policy of the version a compliance Put wrote.
func (b *Backend) lock(ctx context.Context, key storage.Key, version string, until time.Time) error {
	c, err := b.versionClient(key, version)
	if err != nil {
		return err
	}
	_, err = c.SetImmutabilityPolicy(ctx, until.UTC(), &blob.SetImmutabilityPolicyOptions{Mode: to.Ptr(blob.ImmutabilityPolicySettingLocked)})
	if err != nil {
		return fmt.Errorf("azblob put %s: the blob is written with an unlocked policy, locking it failed (the next Put of it locks it): %w",
			b.path(key), translate("lock policy", b.path(key), err))
	}
	return nil
}

// SetRetention puts one version of an existing blob under a version-level
// immutability policy until r.Until (Unlocked), then locks it for
// compliance. Azure refuses to shorten a policy, and any change to a
// locked one but an extension.
func (b *Backend) SetRetention(ctx context.Context, key storage.Key, versionID string, r storage.Retention) error {
	if r.Mode == storage.RetentionOff || r.Until.IsZero() {
		return fmt.Errorf("azblob set retention %s: a mode and an until time are needed", b.path(key))
	}
	if err := b.checkVLWFor(ctx, r); err != nil {
		return err
	}
	c, err := b.versionClient(key, versionID)
	if err != nil {
		return err
	}
	st, err := b.stat(ctx, key, versionID)
	if err != nil {
		return err
	}
	if st.Retention.Mode != storage.RetentionCompliance { // a locked policy can only be extended, locked
		_, err = c.SetImmutabilityPolicy(ctx, r.Until.UTC(), &blob.SetImmutabilityPolicyOptions{Mode: to.Ptr(blob.ImmutabilityPolicySettingUnlocked)})
		if err != nil {
			return translate("set retention", b.path(key), err)
		}
	}
	if r.Mode == storage.RetentionCompliance || st.Retention.Mode == storage.RetentionCompliance {
		_, err = c.SetImmutabilityPolicy(ctx, r.Until.UTC(), &blob.SetImmutabilityPolicyOptions{Mode: to.Ptr(blob.ImmutabilityPolicySettingLocked)})
		return translate("set retention", b.path(key), err)
	}
	return nil
}

// finishLock locks the policy of an existing blob that a compliance Put
// of the same bytes left unlocked (a crash or failure after the upload),
// so that the caller that adopts it on ErrExist gets a locked object.
func (b *Backend) finishLock(ctx context.Context, key storage.Key, opts storage.PutOptions) {
	if opts.Retention.Mode != storage.RetentionCompliance {
		return
	}
	st, err := b.Stat(ctx, key)
	if err != nil || st.SHA256 != opts.SHA256 || st.Retention.Mode != storage.RetentionGovernance ||
		st.Retention.Until.Sub(opts.Retention.Until).Abs() > time.Second {
		return
	}
	_ = b.lock(ctx, key, st.VersionID, opts.Retention.Until) // best effort: verify reports it unlocked
}

// retentionOf is the Retention Azure states for a version: an Unlocked
// policy is governance, a Locked one compliance.
func retentionOf(mode *string, until *time.Time, hold *bool) storage.Retention {
	r := storage.Retention{LegalHold: deref(hold)}
	switch strings.ToLower(deref(mode)) {
	case "unlocked":
		r.Mode = storage.RetentionGovernance
	case "locked":
		r.Mode = storage.RetentionCompliance
	}
	if r.Mode != storage.RetentionOff {
		r.Until = deref(until)
	}
	return r
}

// SetLegalHold sets or clears the legal hold of the current version.
// ErrNotExist if missing; ErrUnsupported where the container has no
// version-level immutability (and on Azurite, which answers 501).
func (b *Backend) SetLegalHold(ctx context.Context, key storage.Key, on bool) error {
	_, err := b.blobClient(key).SetLegalHold(ctx, on, nil)
	return translate("legal hold", b.path(key), err)
}

// GetVersionRange is GetRange of the version versionID ("" the current
// one). ErrNotExist if the key or version is missing. (Azurite ignores the
// version id and serves the current blob; it never hands out one.)
func (b *Backend) GetVersionRange(ctx context.Context, key storage.Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("azblob get %s: negative offset %d", b.path(key), offset)
	}
	if length == 0 {
		if _, err := b.stat(ctx, key, versionID); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	rc, err := b.download(ctx, key, versionID, blob.HTTPRange{Offset: offset, Count: max(length, 0)})
	if err != nil && bloberror.HasCode(err, bloberror.InvalidRange) {
		// 416: the range starts at or after the end; report missing objects.
		if _, serr := b.stat(ctx, key, versionID); serr != nil {
			return nil, serr
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	return rc, err
}

// versionClient is the blob client of version ("" the current one).
func (b *Backend) versionClient(key storage.Key, version string) (*blob.Client, error) {
	c := b.blobClient(key).BlobClient()
	if version == "" {
		return c, nil
	}
	vc, err := c.WithVersionID(version)
	if err != nil {
		return nil, fmt.Errorf("azblob %s version %q: %w", b.path(key), version, err)
	}
	return vc, nil
}
