package audit

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/storage"
)

// Kinds of problems Verify finds.
const (
	// ProblemEdited: a record's content does not hash to its hash.
	ProblemEdited = "edited"
	// ProblemMissing: sequence numbers are missing (records deleted).
	ProblemMissing = "missing"
	// ProblemLink: a record's prev_hash is not its predecessor's hash (a
	// record before it was deleted, inserted or moved).
	ProblemLink = "broken_link"
	// ProblemAnchor: an anchor in the storage disagrees with the chain
	// (rewritten or truncated), or is not a well-formed anchor.
	ProblemAnchor = "anchor"
)

// maxProblems bounds the problems listed; Report.More counts the rest.
const maxProblems = 1000

// Problem is one thing wrong with the chain.
type Problem struct {
	Kind string `json:"kind"`
	// Seq names the record (0 when the problem is an anchor's alone).
	Seq int64 `json:"seq,omitempty"`
	// Anchor names the anchor object concerned, if any.
	Anchor string `json:"anchor,omitempty"`
	Text   string `json:"text"`
}

// Report is what Verify found.
type Report struct {
	// Records counts the records read; Head is the newest.
	Records int64  `json:"records"`
	Head    Anchor `json:"head"`
	// Anchors counts the anchors read from the storage, and Latest is the
	// newest of them (zero when none).
	Anchors  int       `json:"anchors"`
	Latest   Anchor    `json:"latest_anchor"`
	Problems []Problem `json:"problems"`
	// More counts problems beyond those listed.
	More int `json:"more_problems,omitempty"`
	// Unanchored counts the records after the newest anchor: a deletion of
	// those is not detectable until the next anchor.
	Unanchored int64 `json:"unanchored"`
}

// OK reports whether the chain is intact and matches every anchor.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(p Problem) {
	if len(r.Problems) >= maxProblems {
		r.More++
		return
	}
	r.Problems = append(r.Problems, p)
}

// Verify recomputes the whole chain from the database and checks it
// against every anchor under dir in store: each record must hash to its
// hash, follow its predecessor (sequence and prev_hash), and every anchor
// must name a record with its hash and time.
func Verify(ctx context.Context, pool *pgxpool.Pool, store storage.Backend, dir storage.Key) (*Report, error) {
	anchors, bad, err := ReadAnchors(ctx, store, dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Anchors: len(anchors)}
	for _, p := range bad {
		rep.add(p)
	}
	want := make(map[int64]Anchor, len(anchors))
	for _, a := range anchors {
		want[a.Seq] = a
		if a.Seq > rep.Latest.Seq {
			rep.Latest = a
		}
	}
	c := &checker{rep: rep, anchors: want, prevHash: Genesis}
	if err := scan(ctx, pool, c.check); err != nil {
		return nil, err
	}
	for _, a := range anchors {
		if _, seen := c.seen[a.Seq]; !seen {
			rep.add(Problem{Kind: ProblemAnchor, Seq: a.Seq, Anchor: a.Key,
				Text: fmt.Sprintf("anchor %s names record %d (hash %.12s…, %s), which is not in the trail: records were deleted", a.Key, a.Seq, a.Hash, a.At.Format(timeLayout))})
		}
	}
	if rep.Head.Seq > rep.Latest.Seq {
		rep.Unanchored = rep.Head.Seq - rep.Latest.Seq
	}
	return rep, nil
}

// checker follows the chain record by record.
type checker struct {
	rep      *Report
	anchors  map[int64]Anchor
	seen     map[int64]struct{}
	prevSeq  int64
	prevHash string
}

func (c *checker) check(r *Record) {
	rep := c.rep
	rep.Records++
	gap := r.Seq != c.prevSeq+1
	switch {
	case r.Seq > c.prevSeq+1:
		rep.add(Problem{Kind: ProblemMissing, Seq: r.Seq,
			Text: fmt.Sprintf("records %d to %d are missing (deleted): record %d follows record %d", c.prevSeq+1, r.Seq-1, r.Seq, c.prevSeq)})
	case gap:
		rep.add(Problem{Kind: ProblemMissing, Seq: r.Seq, Text: fmt.Sprintf("record %d is out of sequence after record %d", r.Seq, c.prevSeq)})
	}
	if h := r.ComputeHash(); h != r.Hash {
		rep.add(Problem{Kind: ProblemEdited, Seq: r.Seq,
			Text: fmt.Sprintf("record %d was edited: its content hashes to %.12s…, its stored hash is %.12s…", r.Seq, h, r.Hash)})
	}
	if !gap && r.PrevHash != c.prevHash {
		rep.add(Problem{Kind: ProblemLink, Seq: r.Seq,
			Text: fmt.Sprintf("record %d does not follow record %d (its prev_hash %.12s… is not that record's hash %.12s…): a record was deleted, inserted or reordered here", r.Seq, c.prevSeq, r.PrevHash, c.prevHash)})
	}
	if a, ok := c.anchors[r.Seq]; ok {
		if c.seen == nil {
			c.seen = map[int64]struct{}{}
		}
		c.seen[r.Seq] = struct{}{}
		if a.Hash != r.Hash || !a.At.Equal(r.At) {
			rep.add(Problem{Kind: ProblemAnchor, Seq: r.Seq, Anchor: a.Key,
				Text: fmt.Sprintf("record %d does not match anchor %s (hash %.12s… at %s; the trail has %.12s… at %s): the chain was rewritten at or before record %d", r.Seq, a.Key, a.Hash, a.At.Format(timeLayout), r.Hash, r.At.UTC().Format(timeLayout), r.Seq)})
		}
	}
	c.prevSeq, c.prevHash = r.Seq, r.Hash
	rep.Head = Anchor{Seq: r.Seq, Hash: r.Hash, At: r.At}
}

// columns are strata.audit's columns in Record's order.
const columns = `seq, at, actor, via, addr, db_role, action, dataset, period_from, period_to,
	rows, objects, result, error, detail, prev_hash, hash`

// scan calls fn with every record in sequence order, from one snapshot.
// The Record passed is reused: fn must copy what it keeps.
func scan(ctx context.Context, pool *pgxpool.Pool, fn func(*Record)) error {
	rows, err := pool.Query(ctx, `SELECT `+columns+` FROM strata.audit ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("audit: read the trail: %w", err)
	}
	defer rows.Close()
	var r Record
	for rows.Next() {
		if err := scanRecord(rows, &r); err != nil {
			return err
		}
		fn(&r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: read the trail: %w", err)
	}
	return nil
}

func scanRecord(rows pgx.Rows, r *Record) error {
	r.From, r.To = nil, nil
	if err := rows.Scan(&r.Seq, &r.At, &r.Actor, &r.Via, &r.Addr, &r.DBRole, &r.Action, &r.Dataset, &r.From, &r.To,
		&r.Rows, &r.Objects, &r.Result, &r.Error, &r.Detail, &r.PrevHash, &r.Hash); err != nil {
		return fmt.Errorf("audit: read a record: %w", err)
	}
	return nil
}
