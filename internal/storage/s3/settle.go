package s3

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratahq/strata/internal/storage"
)

// settle makes create-only hold on S3-compatible servers that check
// If-None-Match before the write instead of atomically with it (versitygw
// v1.7.0 does): two concurrent puts may then both be accepted, each as a
// version. On a versioned bucket the first version written wins: a put whose
// version is not the key's oldest withdraws it and reports ErrExist. This
// narrows the race between processes but does not close it: a put may find
// its version alone before an older-numbered one lands. (Within a process,
// keyLocks closes it.) Puts to AWS itself (no endpoint in the URL), whose
// conditional writes are atomic, and puts to unversioned buckets skip it.
func (b *Backend) settle(ctx context.Context, key storage.Key, version string) error {
	if b.cfg.Endpoint == "" || version == "" || version == "null" {
		return nil
	}
	oldest, err := b.oldestVersion(ctx, key)
	if err != nil {
		// Whether ours is first is unknown: a retry gets ErrExist and the
		// retry layer adopts the object only if it has our SHA-256.
		return &storage.RetryableError{Err: fmt.Errorf("s3 put %s: check that the new version is the first: %w", b.path(key), translate("put", b.path(key), err))}
	}
	if oldest == "" || oldest == version {
		return nil
	}
	// A version under governance retention is withdrawn with the bypass
	// (it needs s3:BypassGovernanceRetention); one under compliance stays,
	// a version nobody reads (the catalog records the winner's id).
	_, _ = b.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{
		Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key.String()), VersionId: aws.String(version),
		BypassGovernanceRetention: aws.Bool(true)})
	return fmt.Errorf("s3 put %s: %w (a concurrent writer's version came first; this put's version was withdrawn)", b.path(key), storage.ErrExist)
}

// oldestVersion returns the id of the key's oldest version (S3 lists a key's
// versions newest first), or "" when it has none.
func (b *Backend) oldestVersion(ctx context.Context, key storage.Key) (string, error) {
	versions, _, err := b.versions(ctx, key)
	if err != nil || len(versions) == 0 {
		return "", err
	}
	return versions[len(versions)-1], nil
}

// keyLocks serialises the puts of one key within this process, so that on a
// server whose If-None-Match is not atomic (see settle) a second put of the
// key starts only after the first one is complete and is refused by the
// server's check. Puts from other processes are covered by settle alone.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu    sync.Mutex
	users int
}

// lock locks key and returns its unlock function.
func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
