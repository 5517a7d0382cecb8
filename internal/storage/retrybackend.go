package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// WithRetry returns b wrapped in the one retry layer for storage: each call is
// retried while IsRetryable says its error is transient, with exponential
// backoff and full jitter, at least as long as a Retry-After hint, until p's
// attempts or total time run out or ctx is done. Backends underneath must not
// retry on their own.
//
// Per method:
//   - Put is retried only when r implements io.Seeker (bytes.Reader,
//     strings.Reader, os.File): it is rewound to its starting offset before
//     each new attempt. Other readers get exactly one attempt. If an attempt
//     failed ambiguously (the upload may have landed) and a later one gets
//     ErrExist, the object is adopted when Stat shows the same size and
//     SHA-256, so a lost response does not turn a success into ErrExist.
//   - Get, GetRange and GetVersionRange retry the open, and resume the body
//     from the current offset when a read fails with a transient error
//     (objects are immutable, so the bytes continue where they stopped; a
//     GetVersionRange resumes the same version).
//   - List resumes after the last key delivered, so fn still sees each object
//     exactly once; errors returned by fn are never retried.
//   - Delete reports success when an attempt after an ambiguous failure finds
//     the object already gone.
//   - CheckRetention and SetLegalHold (idempotent) are retried as they are.
func WithRetry(b Backend, p RetryPolicy) Backend {
	return &retrying{b: b, p: p.withDefaults()}
}

type retrying struct {
	b Backend
	p RetryPolicy
}

func (r *retrying) Caps() Caps { return r.b.Caps() }

func (r *retrying) Put(ctx context.Context, key Key, body io.Reader, opts PutOptions) (ObjectInfo, error) {
	seeker, ok := body.(io.Seeker)
	if !ok {
		return r.b.Put(ctx, key, body, opts)
	}
	start, err := seeker.Seek(0, io.SeekCurrent)
	if err != nil {
		return r.b.Put(ctx, key, body, opts)
	}
	var info ObjectInfo
	ambiguous := false
	err = r.p.retrier("put", key).run(ctx, func(attempt int) error {
		if attempt > 1 {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("storage put %s: rewind body for retry: %w", key, err)
			}
		}
		var err error
		info, err = r.b.Put(ctx, key, body, opts)
		if ambiguous && errors.Is(err, ErrExist) {
			st, serr := r.b.Stat(ctx, key)
			switch {
			case serr == nil && st.Size == opts.Size && st.SHA256 == opts.SHA256:
				info = st
				return nil
			case IsRetryable(serr):
				// Whether the object is ours is still unknown: ask again
				// rather than report ErrExist for our own upload.
				return serr
			}
		}
		ambiguous = ambiguous || IsRetryable(err)
		return err
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}

func (r *retrying) Get(ctx context.Context, key Key) (io.ReadCloser, error) {
	return r.open(ctx, key, "", 0, -1)
}

func (r *retrying) GetRange(ctx context.Context, key Key, offset, length int64) (io.ReadCloser, error) {
	return r.open(ctx, key, "", offset, length)
}

func (r *retrying) GetVersionRange(ctx context.Context, key Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	return r.open(ctx, key, versionID, offset, length)
}

func (r *retrying) CheckRetention(ctx context.Context, mode RetentionMode) error {
	return r.p.retrier("check retention", Key{}).run(ctx, func(int) error {
		return r.b.CheckRetention(ctx, mode)
	})
}

func (r *retrying) SetRetention(ctx context.Context, key Key, versionID string, ret Retention) error {
	return r.p.retrier("set retention", key).run(ctx, func(int) error {
		return r.b.SetRetention(ctx, key, versionID, ret)
	})
}

func (r *retrying) SetLegalHold(ctx context.Context, key Key, on bool) error {
	return r.p.retrier("set legal hold", key).run(ctx, func(int) error {
		return r.b.SetLegalHold(ctx, key, on)
	})
}

// open opens [offset, offset+length) (length < 0: to the end) of version
// ("" the current one) and returns a body that resumes on transient read
// errors.
func (r *retrying) open(ctx context.Context, key Key, version string, offset, length int64) (io.ReadCloser, error) {
	rc, err := r.openOnce(ctx, key, version, offset, length, version == "" && offset == 0 && length < 0)
	if err != nil {
		return nil, err
	}
	end := int64(-1)
	if length >= 0 {
		end = offset + length
	}
	return &resumingBody{r: r, ctx: ctx, key: key, version: version, rc: rc, pos: offset, end: end}, nil
}

func (r *retrying) openOnce(ctx context.Context, key Key, version string, offset, length int64, whole bool) (io.ReadCloser, error) {
	var rc io.ReadCloser
	op := "get range"
	if whole {
		op = "get"
	}
	err := r.p.retrier(op, key).run(ctx, func(int) error {
		var err error
		switch {
		case whole:
			rc, err = r.b.Get(ctx, key)
		case version != "":
			rc, err = r.b.GetVersionRange(ctx, key, version, offset, length)
		default:
			rc, err = r.b.GetRange(ctx, key, offset, length)
		}
		return err
	})
	return rc, err
}

// resumingBody reopens the object at pos after a transient read error.
type resumingBody struct {
	r       *retrying
	ctx     context.Context
	key     Key
	version string // "" for the current version
	rc      io.ReadCloser
	pos     int64 // absolute offset of the next byte
	end     int64 // absolute end, or -1 for the end of the object
	// stalls counts resumes since the last byte arrived; it bounds a server
	// that keeps dropping the connection without sending anything.
	stalls int
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := b.rc.Read(p)
		b.pos += int64(n)
		if n > 0 {
			b.stalls = 0
		}
		if err == nil || err == io.EOF || !IsRetryable(err) || b.ctx.Err() != nil {
			return n, err
		}
		if rerr := b.resume(err); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (b *resumingBody) resume(readErr error) error {
	b.stalls++
	rt := b.r.p.retrier("read", b.key)
	if err := rt.wait(b.ctx, b.stalls, readErr); err != nil {
		return err
	}
	_ = b.rc.Close() // the body already failed; its close error adds nothing
	length := int64(-1)
	if b.end >= 0 {
		length = b.end - b.pos
	}
	rc, err := b.r.openOnce(b.ctx, b.key, b.version, b.pos, length, false)
	if err != nil {
		b.rc = errBody{err}
		return fmt.Errorf("storage read %s at offset %d: resume after %v: %w", b.key, b.pos, readErr, err)
	}
	b.rc = rc
	return nil
}

func (b *resumingBody) Close() error { return b.rc.Close() }

// errBody is a closed body that keeps failing with err.
type errBody struct{ err error }

func (e errBody) Read([]byte) (int, error) { return 0, e.err }
func (e errBody) Close() error             { return nil }

func (r *retrying) Stat(ctx context.Context, key Key) (ObjectInfo, error) {
	var info ObjectInfo
	err := r.p.retrier("stat", key).run(ctx, func(int) error {
		var err error
		info, err = r.b.Stat(ctx, key)
		return err
	})
	return info, err
}

// fnError carries an error returned by List's callback through the retry
// loop untouched: the caller's errors are never retried.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

func (r *retrying) List(ctx context.Context, prefix Key, fn func(ObjectInfo) error) error {
	var last string
	delivered := false
	err := r.p.retrier("list", prefix).run(ctx, func(int) error {
		return r.b.List(ctx, prefix, func(info ObjectInfo) error {
			if delivered && info.Key.String() <= last {
				return nil // already delivered before the listing failed
			}
			if err := fn(info); err != nil {
				return &fnError{err}
			}
			last, delivered = info.Key.String(), true
			return nil
		})
	})
	var fe *fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

func (r *retrying) Delete(ctx context.Context, key Key) error {
	ambiguous := false
	return r.p.retrier("delete", key).run(ctx, func(int) error {
		err := r.b.Delete(ctx, key)
		if ambiguous && errors.Is(err, ErrNotExist) {
			return nil
		}
		ambiguous = ambiguous || IsRetryable(err)
		return err
	})
}
