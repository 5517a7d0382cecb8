package retrieve

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// A write as CSV or JSON lines reads and encodes several archived objects
// at once: each worker takes the next object not yet taken, fetches and
// verifies it, reads its rows through a cursor of its own and encodes them
// into chunks; the writer writes the chunks object by object, in the
// order a single reader would, so the output is the same byte for byte.
// Memory stays bounded: an object's worker waits once chunksAhead of its
// chunks wait for the writer, so at most workers × (chunksAhead + 1)
// chunks exist at a time, whatever the number of objects.
const (
	// chunkBytes is about how much encoded output a worker hands over
	// at a time.
	chunkBytes = 256 << 10
	// chunksAhead is how many chunks of one object may wait for the
	// writer.
	chunksAhead = 4
	// maxParallelism bounds the default: beyond 4 objects at once the
	// writer, one goroutine, is the bottleneck.
	maxParallelism = 4
)

// chunk is encoded rows of one object, in order; err, when set, ended the
// object after them.
type chunk struct {
	b    []byte
	rows int64
	err  error
}

// parallelism is how many workers a write of rs's archived rows uses: 1
// (read them one by one) when fewer than 2 objects are left, or when a
// row limit could stop the stream within them, since the limit's error
// must come at its exact row.
func (rs *Rows) parallelism() int {
	n := rs.r.Parallelism
	if n <= 0 {
		n = min(runtime.GOMAXPROCS(0), maxParallelism)
	}
	left := len(rs.objs) - rs.next
	if rs.cur.it != nil || left < 2 || (rs.req.MaxRows > 0 && rs.ArchivedRowsAtMost() > rs.req.MaxRows-rs.n) {
		return 1
	}
	return min(n, left)
}

// writeParallel writes every archived row left in rs to enc with workers
// goroutines, and counts them. It returns the first error in output
// order (the rows before it are written) or enc's; it stops its workers
// and closes their files before it returns.
func (rs *Rows) writeParallel(workers int, enc rowEncoder, newAppend func() appendRow) error {
	ctx, cancel := context.WithCancel(rs.ctx)
	first := rs.next
	outs := make([]chan chunk, len(rs.objs))
	for i := first; i < len(outs); i++ {
		outs[i] = make(chan chunk, chunksAhead)
	}
	free := make(chan []byte, workers*(chunksAhead+1))
	size := rs.r.chunkBytes
	if size <= 0 {
		size = chunkBytes
	}
	var taken atomic.Int64
	taken.Store(int64(first))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c := &cursor{}
			defer c.close()
			add := newAppend()
			for {
				i := int(taken.Add(1) - 1)
				if i >= len(rs.objs) || !rs.encodeObject(ctx, c, i, add, outs[i], free, size) {
					return
				}
			}
		})
	}
	defer func() {
		cancel()
		wg.Wait()
		rs.next = len(rs.objs)
	}()
	for i := first; i < len(outs); i++ {
		for {
			var ch chunk
			var ok bool
			select {
			case ch, ok = <-outs[i]:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !ok {
				break
			}
			if len(ch.b) > 0 {
				if err := enc.WriteEncoded(ch.b); err != nil {
					return err
				}
				rs.n += ch.rows
			}
			select {
			case free <- ch.b:
			default:
			}
			if ch.err != nil {
				return ch.err
			}
		}
	}
	return nil
}

// encodeObject fetches object i, reads its rows through c and sends them,
// encoded, to out in chunks, then closes out. It reports false when ctx
// ended, so that its worker stops.
func (rs *Rows) encodeObject(ctx context.Context, c *cursor, i int, add appendRow, out chan<- chunk, free chan []byte, size int) bool {
	defer close(out)
	send := func(ch chunk) bool {
		select {
		case out <- ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	f, err := rs.r.fetch(ctx, rs.objs[i])
	if err == nil {
		err = c.open(rs, i, f)
	}
	if err != nil {
		return send(chunk{err: err})
	}
	defer c.close()
	buf := newChunk(free, size)
	var rows int64
	for c.advance() {
		buf = add(buf, c.out)
		rows++
		if len(buf) >= size {
			if !send(chunk{b: buf, rows: rows}) {
				return false
			}
			buf, rows = newChunk(free, size), 0
		}
	}
	return send(chunk{b: buf, rows: rows, err: c.err})
}

// newChunk returns an empty buffer for a chunk, one the writer is done
// with when there is one.
func newChunk(free chan []byte, size int) []byte {
	select {
	case b := <-free:
		return b[:0]
	default:
		return make([]byte, 0, size+size/4)
	}
}
