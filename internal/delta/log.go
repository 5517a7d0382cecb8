package delta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
)

// logDir is the log's folder under a table's root.
const logDir = "_delta_log"

// snapshot is the state of a table at one version, replayed from its log.
type snapshot struct {
	Version  int64 // -1: no table yet
	Protocol *protocolAction
	Meta     *metaDataAction
	Files    map[string]*addAction    // by path: the files the table lists
	Removed  map[string]*removeAction // tombstones, by path
	// Checkpoint is the version of the newest checkpoint read or found
	// (-1: none).
	Checkpoint int64
}

// logFiles is what a listing of _delta_log found.
type logFiles struct {
	commits     map[int64]storage.Key
	checkpoints map[int64]storage.Key // classic single-file checkpoints
	last        int64                 // the newest commit version, -1 if none
}

// listLog lists root/_delta_log.
func listLog(ctx context.Context, b storage.Backend, root storage.Key) (logFiles, error) {
	lf := logFiles{commits: map[int64]storage.Key{}, checkpoints: map[int64]storage.Key{}, last: -1}
	dir, err := root.Join(logDir)
	if err != nil {
		return lf, err
	}
	err = b.List(ctx, dir, func(oi storage.ObjectInfo) error {
		segs := oi.Key.Segments()
		name := segs[len(segs)-1]
		if len(segs) != len(dir.Segments())+1 || len(name) < 20 {
			return nil
		}
		v, err := strconv.ParseInt(name[:20], 10, 64)
		if err != nil {
			return nil
		}
		switch name[20:] {
		case ".json":
			lf.commits[v] = oi.Key
			lf.last = max(lf.last, v)
		case ".checkpoint.parquet":
			lf.checkpoints[v] = oi.Key
		}
		return nil
	})
	if err != nil {
		return lf, fmt.Errorf("list %s: %w", dir, err)
	}
	return lf, nil
}

// versionName is the zero-padded version of a log file's name.
func versionName(v int64) string { return fmt.Sprintf("%020d", v) }

// readSnapshot replays the table's log: from its newest checkpoint when
// there is one, then every commit after it, in order. A gap in the
// versions is damage and an error.
func readSnapshot(ctx context.Context, b storage.Backend, root storage.Key) (*snapshot, error) {
	lf, err := listLog(ctx, b, root)
	if err != nil {
		return nil, err
	}
	s := &snapshot{Version: -1, Checkpoint: -1, Files: map[string]*addAction{}, Removed: map[string]*removeAction{}}
	if lf.last < 0 {
		return s, nil
	}
	start := int64(0)
	cps := make([]int64, 0, len(lf.checkpoints))
	for v := range lf.checkpoints {
		if v <= lf.last {
			cps = append(cps, v)
		}
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i] > cps[j] })
	for _, v := range cps {
		// A checkpoint that cannot be read is skipped for an older one or
		// the commits themselves: it is an optimisation, not the truth.
		if err := readCheckpoint(ctx, b, lf.checkpoints[v], s); err == nil {
			s.Version, s.Checkpoint, start = v, v, v+1
			break
		}
		*s = snapshot{Version: -1, Checkpoint: -1, Files: map[string]*addAction{}, Removed: map[string]*removeAction{}}
	}
	for v := start; v <= lf.last; v++ {
		key, ok := lf.commits[v]
		if !ok {
			return nil, fmt.Errorf("delta log %s: version %d is missing (versions up to %d exist): %w; "+
				"move the table's _delta_log away and run strata tables rebuild", root, v, lf.last, tables.ErrDamaged)
		}
		acts, err := readCommit(ctx, b, key)
		if err != nil {
			return nil, err
		}
		s.apply(acts)
		s.Version = v
	}
	if len(cps) > 0 && s.Checkpoint < 0 {
		s.Checkpoint = cps[0]
	}
	return s, nil
}

func readCommit(ctx context.Context, b storage.Backend, key storage.Key) ([]action, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	acts, err := decodeCommit(io.LimitReader(rc, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (%w: its entries are never rewritten; move the table's _delta_log away "+
			"and run strata tables rebuild)", key, err, tables.ErrDamaged)
	}
	return acts, nil
}

// apply applies one commit's actions (action reconciliation: the last
// protocol and metaData win; an add and a remove of a path cancel out).
func (s *snapshot) apply(acts []action) {
	for _, a := range acts {
		switch {
		case a.Protocol != nil:
			s.Protocol = a.Protocol
		case a.MetaData != nil:
			s.Meta = a.MetaData
		case a.Add != nil:
			p := unescapePath(a.Add.Path)
			s.Files[p] = a.Add
			delete(s.Removed, p)
		case a.Remove != nil:
			p := unescapePath(a.Remove.Path)
			delete(s.Files, p)
			s.Removed[p] = a.Remove
		}
	}
}

// unescapePath decodes a path URI; Strata's own paths need no escaping
// (storage keys are letters, digits and - _ . =), so a path that does not
// decode is kept as written.
func unescapePath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// errConflict is a version somebody else wrote first.
var errConflict = errors.New("delta: version already written")
