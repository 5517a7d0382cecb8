package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

func testListFolder(t *testing.T, s *suite) {
	// '-' and '.' sort before '/', so a depth-first walk that is not careful
	// returns "a/b/1" before "a/b-y/5" and "a/b.x".
	names := []string{"a/b/1", "a/b/2", "a/b/c/3", "a/bc/4", "a/b.x", "a/b-y/5", "a/a", "z"}
	sizes := map[string]int64{}
	for i, n := range names {
		p := payload(uint64(200+i), 10+i)
		s.put(t, s.key(t, strings.Split(n, "/")...), p)
		sizes[s.key(t, strings.Split(n, "/")...).String()] = int64(len(p))
	}
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{"the whole prefix", "", []string{"a/a", "a/b-y/5", "a/b.x", "a/b/1", "a/b/2", "a/b/c/3", "a/bc/4", "z"}},
		{"a folder and not its look-alike siblings", "a/b", []string{"a/b/1", "a/b/2", "a/b/c/3"}},
		{"a nested folder", "a/b/c", []string{"a/b/c/3"}},
		{"an object's own key lists nothing", "a/b.x", nil},
		{"a missing folder lists nothing", "nope", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := s.prefix
			if tc.prefix != "" {
				prefix = s.key(t, strings.Split(tc.prefix, "/")...)
			}
			var got []string
			err := s.b.List(t.Context(), prefix, func(info storage.ObjectInfo) error {
				got = append(got, strings.TrimPrefix(info.Key.String(), s.prefix.String()+"/"))
				if want := sizes[info.Key.String()]; info.Size != want {
					t.Errorf("List %s: size %d, want %d", info.Key, info.Size, want)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List %s: %v", prefix, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List %s:\n got %q\nwant %q", prefix, got, tc.want)
			}
		})
	}
}

func testListCallbackError(t *testing.T, s *suite) {
	for _, n := range []string{"1", "2", "3"} {
		s.put(t, s.key(t, n), []byte(n))
	}
	stop := errors.New("enough")
	calls := 0
	err := s.b.List(t.Context(), s.prefix, func(storage.ObjectInfo) error {
		calls++
		return stop
	})
	wantErrIs(t, "List", err, stop)
	if calls != 1 {
		t.Errorf("callback called %d times after returning an error, want 1", calls)
	}
}

func testListMany(t *testing.T, s *suite) {
	const n = 1200
	want := make([]string, n)
	for i := range want {
		want[i] = s.key(t, "many", fmt.Sprintf("obj-%05d", i)).String()
	}
	putAll(t, s, want, 16)
	got := s.list(t, s.key(t, "many"))
	if len(got) != n {
		t.Fatalf("List returned %d objects, want %d", len(got), n)
	}
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("List entry %d = %s, want %s (duplicates, gaps or wrong order)", i, got[i], want[i])
			}
		}
	}
}

// putAll stores a small object under each key with the given parallelism.
func putAll(t *testing.T, s *suite, keys []string, workers int) {
	t.Helper()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Go(func() {
			for k := range jobs {
				key, err := storage.ParseKey(k)
				if err == nil {
					p := []byte(k)
					_, err = s.b.Put(t.Context(), key, strings.NewReader(k), optsFor(p))
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, fmt.Errorf("put %s: %w", k, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, k := range keys {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

func cmpErr(old, new error) error {
	if old != nil {
		return old
	}
	return new
}
