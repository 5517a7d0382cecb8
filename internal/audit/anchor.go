package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/storage"
)

// Anchor is the chain's head as written to the storage: the newest record's
// sequence number, hash and time.
type Anchor struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
	// Key is where the anchor is stored.
	Key string `json:"key"`
}

// Anchorer writes the chain's head to the archive storage, as small
// create-only objects {prefix}/audit/anchor_{seq, 20 digits}.json.
type Anchorer struct {
	// Store is the archive storage; Dir the folder ({prefix}/audit).
	Store storage.Backend
	Dir   storage.Key
	// Every is audit.anchor_every: with activity, the head is anchored at
	// least this often.
	Every time.Duration
	// Retention, when set, is the retention an anchor written at now asks
	// the storage for (the archive's, where archive.immutability is on).
	Retention func(now time.Time) storage.Retention

	mu sync.Mutex
	// next is when (on this process's clock) an anchor is next due; zero
	// until the catalog was asked.
	next time.Time
}

// MaybeAnchor anchors the committed head when one is due (no anchor for
// Every, by the catalog's record of anchors written by any process; the
// first is due Every after the first record) or when force is set, unless
// the head is anchored already.
func (a *Anchorer) MaybeAnchor(ctx context.Context, pool *pgxpool.Pool, force bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !force && !a.next.IsZero() && time.Now().Before(a.next) {
		return nil
	}
	// Due Every after the last anchor, or after the first record when
	// there is none yet.
	var since *time.Duration
	var anchored *int64
	if err := pool.QueryRow(ctx, `SELECT now() - coalesce((SELECT max(written_at) FROM strata.audit_anchors),
		(SELECT min(at) FROM strata.audit)), (SELECT max(seq) FROM strata.audit_anchors)`).Scan(&since, &anchored); err != nil {
		return fmt.Errorf("audit: read anchors: %w", err)
	}
	if !force && since != nil && *since < a.Every {
		a.next = time.Now().Add(a.Every - *since)
		return nil
	}
	head, ok, err := Head(ctx, pool)
	if err != nil || !ok || (anchored != nil && head.Seq <= *anchored) {
		a.next = time.Now().Add(a.Every)
		return err
	}
	if err := a.Write(ctx, pool, head); err != nil {
		return err
	}
	a.next = time.Now().Add(a.Every)
	return nil
}

// Head returns the newest committed record's seq, hash and time; false when
// the trail is empty.
func Head(ctx context.Context, pool *pgxpool.Pool) (Anchor, bool, error) {
	var h Anchor
	err := pool.QueryRow(ctx, `SELECT seq, hash, at FROM strata.audit ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash, &h.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("audit: read the chain's head: %w", err)
	}
	h.At = h.At.UTC()
	return h, true, nil
}

// anchorBody is an anchor's content: canonical JSON like a record's
// (keys sorted: at, hash, seq), then a newline. The same head always
// gives the same bytes, so two processes anchoring it at once agree.
func anchorBody(h Anchor) []byte {
	b := field(nil, '{', "at", h.At.UTC().Format(timeLayout))
	b = field(b, ',', "hash", h.Hash)
	b = intField(b, "seq", h.Seq)
	return append(b, '}', '\n')
}

// Write stores head as an anchor object (create-only; an identical one
// already there is fine) and notes it in strata.audit_anchors.
func (a *Anchorer) Write(ctx context.Context, pool *pgxpool.Pool, head Anchor) error {
	key, err := a.Dir.Join(fmt.Sprintf("anchor_%020d.json", head.Seq))
	if err != nil {
		return fmt.Errorf("audit: anchor key: %w", err)
	}
	body := anchorBody(head)
	sum := sha256.Sum256(body)
	opts := storage.PutOptions{Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	if a.Retention != nil {
		opts.Retention = a.Retention(time.Now())
	}
	_, err = a.Store.Put(ctx, key, bytes.NewReader(body), opts)
	if errors.Is(err, storage.ErrExist) {
		err = sameObject(ctx, a.Store, key, body)
	}
	if err != nil {
		return fmt.Errorf("audit: write anchor %s: %w", key, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO strata.audit_anchors (seq, hash, at, key) VALUES ($1, $2, $3, $4)
		ON CONFLICT (seq) DO NOTHING`, head.Seq, head.Hash, head.At, key.String())
	if err != nil {
		return fmt.Errorf("audit: note anchor %s: %w", key, err)
	}
	return nil
}

// sameObject checks that the object at key holds exactly body.
func sameObject(ctx context.Context, store storage.Backend, key storage.Key, body []byte) error {
	got, err := readSmall(ctx, store, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("an anchor with other content is already stored there (%q): run strata audit verify", got)
	}
	return nil
}

// maxAnchorBytes bounds what is read of an anchor object.
const maxAnchorBytes = 4096

func readSmall(ctx context.Context, store storage.Backend, key storage.Key) ([]byte, error) {
	r, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxAnchorBytes))
}

// ReadAnchors returns the anchors stored under dir, in key (so sequence)
// order, and a problem for each object there that is not a well-formed
// anchor.
func ReadAnchors(ctx context.Context, store storage.Backend, dir storage.Key) ([]Anchor, []Problem, error) {
	var keys []storage.Key
	err := store.List(ctx, dir, func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("audit: list anchors under %s: %w", dir, err)
	}
	var out []Anchor
	var problems []Problem
	for _, k := range keys {
		body, err := readSmall(ctx, store, k)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: read anchor %s: %w", k, err)
		}
		an, err := parseAnchor(body)
		if err != nil {
			problems = append(problems, Problem{Kind: ProblemAnchor, Anchor: k.String(), Text: err.Error()})
			continue
		}
		an.Key = k.String()
		out = append(out, an)
	}
	return out, problems, nil
}

// parseAnchor reads an anchor's body and checks that it is in canonical
// form (so an anchor edited by hand is noticed, not silently reread).
func parseAnchor(body []byte) (Anchor, error) {
	var raw struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
		At   string `json:"at"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Anchor{}, fmt.Errorf("not an anchor: %v", err)
	}
	at, err := time.Parse(timeLayout, raw.At)
	if err != nil {
		return Anchor{}, fmt.Errorf("anchor time %q: %v", raw.At, err)
	}
	an := Anchor{Seq: raw.Seq, Hash: strings.ToLower(raw.Hash), At: at}
	if !bytes.Equal(anchorBody(an), body) {
		return Anchor{}, fmt.Errorf("anchor is not in canonical form (seq %s)", strconv.FormatInt(raw.Seq, 10))
	}
	return an, nil
}
