// Package storage defines the small object-store interface that every archive
// backend implements (local disk, Azure Blob / ADLS Gen2, S3), the Key type that
// is the only way an object name reaches a backend, and the sentinel errors that
// backends translate their SDK errors into.
//
// The contract is deliberately narrow: objects are written once, under their
// final key, with create-only semantics and an expected SHA-256. A backend never
// overwrites an object and never leaves a partial object visible.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sentinel errors. Backends translate SDK errors into these once, inside the
// backend; callers test with errors.Is.
var (
	// ErrNotExist is returned by Get, GetRange, Stat and Delete when no object
	// exists under the key.
	ErrNotExist = errors.New("object does not exist")
	// ErrExist is returned by Put when an object already exists under the key.
	// The existing object is left untouched.
	ErrExist = errors.New("object already exists")
	// ErrChecksum is returned by Put when the bytes read from the reader do not
	// match PutOptions.SHA256 or PutOptions.Size. Nothing is left behind.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrImmutable is returned by Delete when a retention policy forbids it.
	ErrImmutable = errors.New("object is immutable")
	// ErrInvalidKey is returned by the Key constructors for unsafe names.
	ErrInvalidKey = errors.New("invalid object key")
	// ErrUnsupported is returned when a call asks for a feature (retention,
	// legal hold, versions) that the store or its configuration lacks. The
	// message names the feature and how to enable it.
	ErrUnsupported = errors.New("not supported by this store")
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     Key
	Size    int64
	ModTime time.Time
	// SHA256 is the lower-case hex SHA-256 of the content as recorded in the
	// object's metadata at Put time; empty if the backend has none recorded.
	// Stat fills it where the backend records it; List may leave it empty.
	SHA256 string
	// Metadata is PutOptions.Metadata as stored, on backends whose
	// Caps().Metadata is true; nil elsewhere. List may leave it nil.
	Metadata map[string]string
	// VersionID names the version Put wrote or Stat found, on backends whose
	// Caps().Versions is true (S3 and Azure with versioning); empty elsewhere.
	VersionID string
	// Retention is the object's retention as the store states it (Stat);
	// the zero value when it has none. List may leave it empty.
	Retention Retention
}

// PutOptions are the facts the caller knows about the bytes it uploads.
type PutOptions struct {
	// Size is the exact number of bytes the reader yields. Required.
	Size int64
	// SHA256 is the lower-case hex SHA-256 of the content. Required: the
	// backend hashes what it reads and refuses (ErrChecksum) a mismatch
	// before the object becomes visible.
	SHA256 string
	// Metadata is stored with the object where the backend supports it.
	// Keys are lower-case ASCII letters, digits and '_'.
	Metadata map[string]string
	// Retention, when its Mode is not RetentionOff, asks the store itself to
	// refuse deleting or overwriting the object until Retention.Until. A
	// backend whose Caps().Retention is false refuses such a Put with
	// ErrUnsupported rather than store an object that is not protected.
	Retention Retention
}

// Caps states facts about a backend instead of letting callers guess.
type Caps struct {
	// CreateOnly is true when Put refuses atomically to replace an existing
	// object (If-None-Match: * or an exclusive rename). All backends here are.
	CreateOnly bool
	// Retention is true when the backend honours PutOptions.Retention and
	// SetLegalHold: its Delete refuses a protected object with ErrImmutable.
	// Whether anyone else is refused too is what WORM says.
	Retention bool
	// WORM is true when the store itself refuses to delete or overwrite a
	// protected object whoever asks, with whatever credentials (S3 Object
	// Lock, Azure version-level immutability). It is false for a local disk:
	// there retention is kept by the backend's own Delete and read-only
	// files, which anyone with write access to the folder can undo. Callers
	// that turn immutability on should say so when Retention && !WORM.
	WORM bool
	// Versions is true when the store keeps versions and ObjectInfo.VersionID
	// is filled.
	Versions bool
	// LegalHold is true when the store has a per-object legal-hold flag.
	LegalHold bool
	// Metadata is true when Put stores PutOptions.Metadata and Stat returns
	// it in ObjectInfo.Metadata.
	Metadata bool
	// Name is a short label for logs and metrics: "file", "azblob", "s3".
	Name string
}

// Backend is an object store. Implementations must be safe for concurrent use.
//
// Every method takes ctx first; when ctx is cancelled the call returns
// ctx.Err() (possibly wrapped) and a Put in progress leaves nothing visible.
type Backend interface {
	// Put stores r under key, create-only. It returns ErrExist if the key is
	// taken (the existing object is untouched) and ErrChecksum if the content
	// does not match opts.Size / opts.SHA256 (nothing is left behind). On
	// success the object is complete and visible.
	Put(ctx context.Context, key Key, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// Get opens the whole object. ErrNotExist if missing.
	Get(ctx context.Context, key Key) (io.ReadCloser, error)
	// GetRange opens length bytes starting at offset; length < 0 means to the
	// end. A range reaching past the end is cut at the end, and an offset at
	// or past the end yields an empty body, not an error. A negative offset is
	// an error. ErrNotExist if missing.
	GetRange(ctx context.Context, key Key, offset, length int64) (io.ReadCloser, error)
	// Stat returns the object's info. ErrNotExist if missing.
	Stat(ctx context.Context, key Key) (ObjectInfo, error)
	// List calls fn once for every object whose key starts with prefix
	// (prefix is a folder: "a/b" lists "a/b/..." but neither "a/bc" nor an
	// object named "a/b" itself; the zero Key lists all), in lexical
	// byte order of the keys. fn is called exactly once per object and never
	// concurrently; an error from fn stops the listing and is returned as is.
	// The ObjectInfo carries Key, Size and ModTime; SHA256 and Metadata may be
	// empty (use Stat).
	List(ctx context.Context, prefix Key, fn func(ObjectInfo) error) error
	// Delete removes the object for good: on a store that keeps versions,
	// every version of the key (not a delete marker that would leave the
	// bytes behind), so that after it returns nil nothing of the key is
	// left and the key can be written again. ErrNotExist if missing,
	// ErrImmutable if a retention or legal hold forbids it (on any version;
	// the versions still protected are then kept).
	Delete(ctx context.Context, key Key) error
	// GetVersionRange is GetRange of one version of the object: versionID
	// is an ObjectInfo.VersionID from Put or Stat, and "" means the current
	// version. Backends without versions (Caps().Versions false) accept
	// only "" and answer another id with ErrUnsupported. ErrNotExist if the
	// key or version is missing.
	GetVersionRange(ctx context.Context, key Key, versionID string, offset, length int64) (io.ReadCloser, error)
	// CheckRetention is the start-up check that the store can enforce mode
	// on every object Put writes: nil when it can, else an error wrapping
	// ErrUnsupported that names the missing feature and how to enable it.
	// CheckRetention(ctx, RetentionOff) is nil. A nil answer does not mean
	// the store is WORM: see Caps().WORM.
	CheckRetention(ctx context.Context, mode RetentionMode) error
	// SetLegalHold sets (on) or clears the object's legal hold, which
	// forbids deleting it whatever its retention says, until cleared. It
	// applies to the current version. ErrNotExist if missing,
	// ErrUnsupported where the store has no legal hold (Caps().LegalHold).
	SetLegalHold(ctx context.Context, key Key, on bool) error
	// SetRetention puts an existing object's version versionID ("" the
	// current one) under r (its Mode not RetentionOff; LegalHold ignored):
	// for objects written without retention, or to extend one. It never
	// shortens a retention: the store refuses that (ErrImmutable, or the
	// store's refusal). ErrNotExist if the key or version is missing,
	// ErrUnsupported where the store keeps no retention (Caps().Retention)
	// or it is not enabled (see CheckRetention).
	SetRetention(ctx context.Context, key Key, versionID string, r Retention) error
	// Caps reports what the backend guarantees.
	Caps() Caps
}

// maxMetadataBytes bounds the total size of PutOptions.Metadata (Azure allows
// 8 KiB of metadata per blob, S3 2 KiB of user metadata; keep well inside).
const maxMetadataBytes = 2048

// Validate reports whether opts are complete and well-formed: Size is not
// negative, SHA256 is 64 lower-case hex digits, Retention has a known mode
// and, when on, an Until, and Metadata keys are
// lower-case ASCII letters, digits and '_' (starting with a letter) with
// printable ASCII values, 2 KiB in total. Backends call it first in Put.
func (o PutOptions) Validate() error {
	if o.Size < 0 {
		return fmt.Errorf("put options: size %d is negative (pass the exact byte count)", o.Size)
	}
	if !isLowerHex(o.SHA256, 64) {
		return fmt.Errorf("put options: sha256 %q is not 64 lower-case hex digits (pass hex.EncodeToString(sha256 sum))", o.SHA256)
	}
	if err := o.Retention.validate(); err != nil {
		return err
	}
	total := 0
	for k, v := range o.Metadata {
		if !isMetadataKey(k) {
			return fmt.Errorf("put options: metadata key %q must start with a-z and use only a-z, 0-9 and _", k)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return fmt.Errorf("put options: metadata %s has byte %#x (use printable ASCII)", k, v[i])
			}
		}
		total += len(k) + len(v)
	}
	if total > maxMetadataBytes {
		return fmt.Errorf("put options: metadata is %d bytes, more than %d (store large values in the object)", total, maxMetadataBytes)
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isMetadataKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
