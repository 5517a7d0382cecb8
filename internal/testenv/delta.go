package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

// DeltaListed reads a Delta table the simplest way a reader may: it
// replays the JSON commits of root/_delta_log from version 0 up to upTo
// (all of them when upTo < 0), applying each add and remove, and returns
// the storage keys of the files the table lists, sorted, and the last
// version read (-1: no table). It shares no code with internal/delta, so
// tests read what Strata wrote as another engine would.
func DeltaListed(t testing.TB, b storage.Backend, root string, upTo int) (keys []string, version int) {
	t.Helper()
	files := map[string]bool{}
	version = -1
	for v := 0; upTo < 0 || v <= upTo; v++ {
		k := storage.MustKey(append(strings.Split(root, "/"), "_delta_log", fmt.Sprintf("%020d.json", v))...)
		rc, err := b.Get(context.Background(), k)
		if err != nil {
			break
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var a struct{ Add, Remove *struct{ Path string } }
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if a.Add != nil {
				files[root+"/"+a.Add.Path] = true
			}
			if a.Remove != nil {
				delete(files, root+"/"+a.Remove.Path)
			}
		}
		rc.Close()
		version = v
	}
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, version
}
