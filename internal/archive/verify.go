package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// Problem kinds reported by Verify.
const (
	ProblemMissing    = "missing"    // committed in the catalog, absent from storage
	ProblemSize       = "size"       // stored size differs from the catalog
	ProblemChecksum   = "checksum"   // content hash differs from the catalog (deep)
	ProblemRows       = "rows"       // Parquet row count differs from the catalog (deep)
	ProblemUnreadable = "unreadable" // present but cannot be stat'ed or read (e.g. damaged on disk), or not a readable Parquet file (deep)
	ProblemUnexpected = "unexpected" // in storage, unknown to the catalog
	ProblemOrphan     = "orphan"     // uploaded by a run that never committed
	// ProblemOverwritten: the object's current version is not the one
	// Strata wrote and its bytes differ (another writer put an object on
	// top; reads still take the recorded version).
	ProblemOverwritten = "overwritten"
	// ProblemRetention: the storage states a write-once retention shorter
	// than the object's expiry, or none where one was asked for or
	// archive.immutability is on.
	ProblemRetention = "retention"
)

// Problem is one thing wrong with the archive.
type Problem struct {
	Kind   string
	Key    string
	Detail string
}

// VerifyOptions select how much Verify does.
type VerifyOptions struct {
	Dataset string
	// Deep reads every object: SHA-256 and Parquet row count.
	Deep bool
	// Repair deletes objects of runs that never committed (orphans) and
	// marks them deleted, and puts committed objects that lack the
	// retention their dataset's archive.immutability asks for under it
	// (objects archived before it was turned on); it never changes a
	// committed object's bytes.
	Repair bool
	// Immutability is each dataset's archive.immutability: each object of
	// a dataset where it is on must be under a retention at least until
	// its expiry, whether or not its upload asked for one.
	Immutability map[string]storage.RetentionMode
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Checked  int
	Bytes    int64
	Problems []Problem
	// Repaired lists orphan keys removed by Repair.
	Repaired []string
	// Protected lists the objects Repair put under retention.
	Protected []ObjectRetention
	// Retention is each checked object's retention as the storage states
	// it (Stat), in the order checked.
	Retention []ObjectRetention
}

// Verify checks every committed object against storage, lists objects the
// catalog does not know, and (with Repair) removes orphans.
//
// Each verify is recorded in strata.runs (command verify): ok when the
// archive is sound, failed with the problems counted by kind otherwise, so
// the console can say when the archive was last checked.
func (a *Archiver) Verify(ctx context.Context, opts VerifyOptions) (rep VerifyReport, err error) {
	runID, end, err := a.Catalog.BeginRun(ctx, "verify", opts.Dataset, "")
	if err != nil {
		return rep, err
	}
	defer end()
	defer func() {
		runErr := err
		if runErr == nil && len(rep.Problems) > 0 {
			runErr = problemsError(rep.Problems, opts.Deep)
		}
		if ferr := a.Catalog.FinishRun(context.WithoutCancel(ctx), runID,
			catalog.RunTotals{Objects: rep.Checked, Bytes: rep.Bytes}, runErr); ferr != nil && err == nil {
			err = ferr
		}
	}()
	return a.verify(ctx, opts)
}

// problemsError sums a verify's problems by kind, for its run's record.
func problemsError(ps []Problem, deep bool) error {
	kinds := map[string]int{}
	var order []string
	for _, p := range ps {
		if kinds[p.Kind] == 0 {
			order = append(order, p.Kind)
		}
		kinds[p.Kind]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s %d", k, kinds[k])
	}
	what := "verify"
	if deep {
		what = "verify --deep"
	}
	return fmt.Errorf("%s found %d problems: %s", what, len(ps), strings.Join(parts, ", "))
}

func (a *Archiver) verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error) {
	var rep VerifyReport
	// Every object that must still be in storage: current ones, those a
	// correction superseded and those restored into Layer 2 (all immutable
	// until they expire).
	objs, err := a.Catalog.List(ctx, catalog.Filter{Dataset: opts.Dataset, WithSuperseded: true,
		States: []string{catalog.StateCommitted, catalog.StateRestored}})
	if err != nil {
		return rep, err
	}
	ups, err := a.Catalog.Uploads(ctx, opts.Dataset, catalog.StateIntent, catalog.StateUploaded,
		catalog.StateCommitted, catalog.StateOrphaned, catalog.StateDeleting, catalog.StateDeleted)
	if err != nil {
		return rep, err
	}
	now, err := a.dbNow(ctx)
	if err != nil {
		return rep, fmt.Errorf("read the database clock: %w", err)
	}
	known := make(map[string]string, len(objs)+len(ups))
	for _, u := range ups {
		known[u.Key] = u.State
	}
	for _, o := range objs {
		known[o.Key] = catalog.StateCommitted
		rep.Checked++
		rep.Bytes += o.Bytes
		a.checkObject(ctx, o, opts, now, &rep)
	}
	if opts.Repair {
		if err := a.repair(ctx, opts.Dataset, &rep); err != nil {
			return rep, err
		}
		for _, k := range rep.Repaired {
			delete(known, k)
		}
	}
	return rep, a.findUnexpected(ctx, opts.Dataset, known, &rep)
}

// checkObject checks one committed object: present with its size (deep:
// the version Strata wrote read whole), its current version still the one
// Strata wrote (or with the same bytes), and its retention as the storage
// states it.
func (a *Archiver) checkObject(ctx context.Context, o catalog.Object, opts VerifyOptions, now time.Time, rep *VerifyReport) {
	add := func(p *Problem) {
		if p != nil {
			rep.Problems = append(rep.Problems, *p)
		}
	}
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		add(&Problem{ProblemUnexpected, o.Key, "catalog key is not a valid object key"})
		return
	}
	info, err := a.Store.Stat(ctx, key)
	if errors.Is(err, storage.ErrNotExist) {
		add(&Problem{ProblemMissing, o.Key, fmt.Sprintf("committed object (%d rows) is not in storage", o.Rows)})
		return
	}
	if err != nil {
		// Not "missing": the object may well be there (the file backend
		// refuses to stat a file whose size disagrees with its sidecar).
		add(&Problem{ProblemUnreadable, o.Key, "cannot stat: " + err.Error()})
		return
	}
	rep.Retention = append(rep.Retention, ObjectRetention{Key: o.Key, Stated: info.Retention, ExpiresAt: o.ExpiresAt,
		Asked: o.RetentionMode, Version: info.VersionID})
	mode := opts.Immutability[o.Dataset]
	if p := checkRetention(o, info.Retention, mode != storage.RetentionOff, now); p != nil && opts.Repair && mode != storage.RetentionOff {
		add(a.protect(ctx, key, o, info, mode, p, rep))
	} else {
		add(p)
	}
	if o.VersionID != "" && info.VersionID != o.VersionID {
		add(a.checkCurrent(ctx, key, o, info))
	} else if info.Size != o.Bytes {
		add(&Problem{ProblemSize, o.Key, fmt.Sprintf("size %d, catalog says %d", info.Size, o.Bytes)})
		return
	}
	if opts.Deep {
		add(a.checkContent(ctx, key, o))
	}
}

// checkContent reads the version Strata wrote whole: SHA-256 and Parquet
// row count against the catalog.
func (a *Archiver) checkContent(ctx context.Context, key storage.Key, o catalog.Object) *Problem {
	sum, rows, err := a.readObject(ctx, key, o.VersionID, o.Bytes)
	switch {
	case err != nil && sum == "":
		return &Problem{ProblemMissing, o.Key, "cannot read: " + err.Error()}
	case sum != o.SHA256:
		return &Problem{ProblemChecksum, o.Key, fmt.Sprintf("sha256 %s, catalog says %s", sum, o.SHA256)}
	case err != nil:
		return &Problem{ProblemUnreadable, o.Key, err.Error()}
	case rows != o.Rows:
		return &Problem{ProblemRows, o.Key, fmt.Sprintf("%d rows, catalog says %d", rows, o.Rows)}
	}
	return nil
}

// readObject hashes the whole of version versionID and then reads its
// Parquet footer.
func (a *Archiver) readObject(ctx context.Context, key storage.Key, versionID string, size int64) (string, int64, error) {
	sum, _, err := a.hashVersion(ctx, key, versionID)
	if err != nil {
		return "", 0, err
	}
	r, err := parquetio.Open(storage.NewReaderAt(ctx, a.Store, key, versionID), size)
	if err != nil {
		return sum, 0, fmt.Errorf("not a readable Parquet file: %w", err)
	}
	if v, ok := r.Metadata()[parquetio.KeyRows]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n != r.NumRows() {
			return sum, r.NumRows(), fmt.Errorf("footer says %d rows, metadata %d", r.NumRows(), n)
		}
	}
	return sum, r.NumRows(), nil
}

// hashVersion returns the hex SHA-256 and size of version versionID ("" the
// current one) of the object at key.
func (a *Archiver) hashVersion(ctx context.Context, key storage.Key, versionID string) (string, int64, error) {
	rc, err := storage.OpenVersion(ctx, a.Store, key, versionID, 0, -1)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// findUnexpected lists storage under the archive prefix and reports objects
// the catalog does not know at all.
func (a *Archiver) findUnexpected(ctx context.Context, dataset string, known map[string]string, rep *VerifyReport) error {
	for _, typ := range []string{catalog.TypeAnalytics, catalog.TypeSource} {
		segs := []string{typ}
		if dataset != "" {
			segs = append(segs, dataset)
		}
		prefix, err := a.Prefix.Join(segs...)
		if err != nil {
			return err
		}
		err = a.Store.List(ctx, prefix, func(info storage.ObjectInfo) error {
			if isTableMetadata(a.Prefix, info.Key) {
				return nil // lakehouse table metadata: verify checks the tables apart
			}
			state, ok := known[info.Key.String()]
			if !ok {
				// A run may have recorded and uploaded it after the catalog
				// was read: ask again before calling it unexpected.
				if state, ok, err = a.Catalog.UploadState(ctx, info.Key.String()); err != nil {
					return err
				}
			}
			switch {
			case !ok:
				rep.Problems = append(rep.Problems, Problem{ProblemUnexpected, info.Key.String(),
					fmt.Sprintf("%d bytes in storage, not in the catalog (left alone; remove it by hand if it is not yours)", info.Size)})
			case state == catalog.StateOrphaned || state == catalog.StateDeleting || state == catalog.StateDeleted:
				rep.Problems = append(rep.Problems, Problem{ProblemOrphan, info.Key.String(),
					"left by an interrupted run, never committed or read; 'strata verify --repair' removes it"})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
	}
	return nil
}

// isTableMetadata reports whether key is under a folder whose name starts
// with '_' directly in a dataset's folder ({prefix}/{type}/{dataset}/_x/):
// the lakehouse tables' metadata (Delta's _delta_log), which no archive
// object's key can be.
func isTableMetadata(prefix, key storage.Key) bool {
	segs := key.Segments()
	i := len(prefix.Segments()) + 2
	return len(segs) > i+1 && strings.HasPrefix(segs[i], "_")
}

// repair removes orphans. It settles only uploads whose run is dead (its
// run lock is free), so an object a live run is still uploading is never
// mistaken for an orphan; it moves an orphan to deleting before touching
// storage, so a run cannot re-adopt an object being deleted; and it checks
// once more that the object was never committed.
func (a *Archiver) repair(ctx context.Context, dataset string, rep *VerifyReport) error {
	ups, err := a.Catalog.Uploads(ctx, dataset, catalog.StateOrphaned, catalog.StateIntent, catalog.StateUploaded, catalog.StateDeleting)
	if err != nil {
		return err
	}
	type group struct{ typ, dataset string }
	seen := map[group]bool{}
	for _, u := range ups {
		g := group{u.Type, u.Dataset}
		if seen[g] {
			continue
		}
		seen[g] = true
		if err := a.repairDataset(ctx, g.typ, g.dataset, rep); err != nil {
			return err
		}
	}
	return nil
}

func (a *Archiver) repairDataset(ctx context.Context, typ, dataset string, rep *VerifyReport) error {
	if _, err := a.Catalog.SettleDeadRuns(ctx, dataset, typ); err != nil {
		return err
	}
	orphans, err := a.Catalog.Uploads(ctx, dataset, catalog.StateOrphaned, catalog.StateDeleting)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		if o.Type != typ {
			continue
		}
		// Claim the orphan first: a run re-adopting it needs it orphaned.
		if o.State == catalog.StateOrphaned &&
			catalog.SetState(ctx, a.Catalog.Pool(), o.ID, catalog.StateOrphaned, catalog.StateDeleting) != nil {
			continue
		}
		if committed, err := a.Catalog.IsCommitted(ctx, o.ID); err != nil || committed {
			return err
		}
		if err := a.removeOrphan(ctx, o, rep); err != nil {
			return err
		}
	}
	return nil
}

func (a *Archiver) removeOrphan(ctx context.Context, o catalog.Upload, rep *VerifyReport) error {
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return err
	}
	err = a.Store.Delete(ctx, key)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		if errors.Is(err, storage.ErrImmutable) {
			rep.Problems = append(rep.Problems, Problem{ProblemOrphan, o.Key, "orphan under retention lock; it stays until retention ends and is never read"})
			return nil
		}
		return fmt.Errorf("remove orphan %s: %w", o.Key, err)
	}
	if err := catalog.SetState(ctx, a.Catalog.Pool(), o.ID, catalog.StateDeleting, catalog.StateDeleted); err != nil {
		return err
	}
	rep.Repaired = append(rep.Repaired, o.Key)
	return nil
}
