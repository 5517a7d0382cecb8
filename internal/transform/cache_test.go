package transform_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/transform"
)

func TestTheCacheReadsAFileAgainOnlyWhenItChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.sql")
	write := func(text string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	var c transform.Cache
	t0 := time.Now().Add(-time.Hour)
	write(`SELECT r.raw_id AS id FROM {{source}} r`, t0)
	a, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.Load(path); err != nil || b != a {
		t.Fatalf("an unchanged file was read again (or failed: %v)", err)
	}
	write(`SELECT r.raw_id AS id2 FROM {{source}} r`, t0.Add(time.Second))
	b, err := c.Load(path)
	if err != nil || b.Version() == a.Version() || b.Text() != `SELECT r.raw_id AS id2 FROM {{source}} r` {
		t.Fatalf("an edited file: version %s (was %s), err %v", b.Version(), a.Version(), err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(path); err == nil {
		t.Fatal("a removed file loaded from the cache")
	}
}
