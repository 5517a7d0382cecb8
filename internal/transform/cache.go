package transform

import (
	"os"
	"sync"
	"time"
)

// Cache loads transform files, reading a file again only when its size or
// modification time changed, so a long-running process that loads the
// transform for every request (strata serve's ingests) follows edits
// without reading and checking the file each time. The zero Cache is ready
// for use; it is safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	size int64
	mod  time.Time
	t    *Transform
}

// Load is the package's Load, through the cache.
func (c *Cache) Load(path string) (*Transform, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Load(path) // its error says what is wrong
	}
	c.mu.Lock()
	e, ok := c.m[path]
	c.mu.Unlock()
	if ok && e.size == fi.Size() && e.mod.Equal(fi.ModTime()) {
		return e.t, nil
	}
	t, err := Load(path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	c.m[path] = cached{size: fi.Size(), mod: fi.ModTime(), t: t}
	return t, nil
}
