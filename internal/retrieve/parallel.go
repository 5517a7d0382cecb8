package retrieve

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/stratahq/strata/internal/parquetio"
)

// A write as CSV or JSON lines, and a stream of converted rows (Map), read
// several archived objects at once: each worker takes the next object not
// yet taken, fetches and verifies it, reads its rows through a cursor of
// its own and converts them (encodes them, or makes Go values of them)
// into chunks; the consumer takes the chunks object by object, in the
// order a single reader would, so the output is the same. Memory stays
// bounded: an object's worker waits once chunksAhead of its chunks wait
// for the consumer, so at most workers × (chunksAhead + 1) chunks exist at
// a time, whatever the number of objects.
const (
	// chunkBytes is about how much encoded output a worker hands over
	// at a time.
	chunkBytes = 256 << 10
	// chunkValues is about how many values (rows × columns) a worker
	// converting rows to Go values hands over at a time.
	chunkValues = 8 << 10
	// chunksAhead is how many chunks of one object may wait for the
	// consumer: 4 MiB of CSV or JSON lines, so that a worker keeps
	// busy on the next object while the consumer takes a large one (4
	// chunks, 1 MiB, left the second worker idle most of the time on
	// objects of 200,000 rows).
	chunksAhead = 16
	// maxParallelism bounds the default: beyond 4 objects at once the
	// consumer, one goroutine, is the bottleneck.
	maxParallelism = 4
)

// chunk is converted rows of one object, in order; err, when set, ended
// the object after them.
type chunk[T any] struct {
	b    []T
	rows int64
	ends []int // where each row ends in b, when the rows' lengths vary under a row limit
	err  error
}

// convert appends one row, converted, to dst.
type convert[T any] func(dst []T, row []parquetio.Value) []T

// parallelism is how many workers a read of rs's archived rows uses: 1
// (read them one by one) when fewer than 2 objects are left or the stream
// has begun reading one.
func (rs *Rows) parallelism() int {
	n := rs.r.Parallelism
	if n <= 0 {
		n = min(runtime.GOMAXPROCS(0), maxParallelism)
	}
	left := len(rs.objs) - rs.next
	if rs.cur.it != nil || left < 2 {
		return 1
	}
	return min(n, left)
}

// ordered runs the workers over the objects left in a Rows and hands
// their chunks over in object order.
type ordered[T any] struct {
	ctx     context.Context
	cancel  context.CancelFunc
	outs    []chan chunk[T] // per object, its chunks
	obj     int             // the object whose chunks come next
	free    chan []T        // chunks the consumer is done with
	rowEnds bool            // chunks note where each row ends
	wg      sync.WaitGroup
}

// startOrdered starts workers goroutines converting the archived rows left
// in rs with newConvert's functions (one per worker) into chunks of about
// size elements. Rows counts none of them: the consumer does. With
// rowEnds, chunks note where each row ends (rows of varying length, under
// a row limit).
func startOrdered[T any](rs *Rows, workers, size int, rowEnds bool, newConvert func() convert[T]) *ordered[T] {
	o := &ordered[T]{obj: rs.next, rowEnds: rowEnds, outs: make([]chan chunk[T], len(rs.objs)), free: make(chan []T, workers*(chunksAhead+1))}
	o.ctx, o.cancel = context.WithCancel(rs.ctx)
	for i := rs.next; i < len(o.outs); i++ {
		o.outs[i] = make(chan chunk[T], chunksAhead)
	}
	var taken atomic.Int64
	taken.Store(int64(rs.next))
	rs.next = len(rs.objs) // every object is the workers' now
	rs.stopWorkers = o.stop
	for range workers {
		o.wg.Go(func() {
			c := &cursor{}
			defer c.close()
			conv := newConvert()
			for {
				i := int(taken.Add(1) - 1)
				if i >= len(o.outs) || !o.convertObject(rs, c, i, conv, size) {
					return
				}
			}
		})
	}
	return o
}

// next returns the next chunk in object order; false when every object's
// chunks were taken. A chunk with an error is the last one to take.
func (o *ordered[T]) next() (chunk[T], bool) {
	for o.obj < len(o.outs) {
		select {
		case ch, ok := <-o.outs[o.obj]:
			if ok {
				return ch, true
			}
			o.obj++
		case <-o.ctx.Done():
			return chunk[T]{err: o.ctx.Err()}, true
		}
	}
	return chunk[T]{}, false
}

// recycle gives back a chunk's buffer once its contents are used.
func (o *ordered[T]) recycle(b []T) {
	select {
	case o.free <- b:
	default:
	}
}

// stop ends the workers, waits for them and closes their files.
func (o *ordered[T]) stop() {
	o.cancel()
	o.wg.Wait()
}

// convertObject fetches object i, reads its rows through c and sends them,
// converted, to its channel in chunks, then closes it. It reports false
// when the consumer stopped, so that its worker stops.
func (o *ordered[T]) convertObject(rs *Rows, c *cursor, i int, conv convert[T], size int) bool {
	out := o.outs[i]
	defer close(out)
	send := func(ch chunk[T]) bool {
		select {
		case out <- ch:
			return true
		case <-o.ctx.Done():
			return false
		}
	}
	f, err := rs.r.fetch(o.ctx, rs.objs[i])
	if err == nil {
		err = c.open(rs, i, f)
	}
	if err != nil {
		return send(chunk[T]{err: err})
	}
	defer c.close()
	track := o.rowEnds
	buf := o.newChunk(size)
	var rows int64
	var ends []int
	for c.advance() {
		buf = conv(buf, c.out)
		rows++
		if track {
			ends = append(ends, len(buf))
		}
		if len(buf) >= size {
			if !send(chunk[T]{b: buf, rows: rows, ends: ends}) {
				return false
			}
			buf, rows, ends = o.newChunk(size), 0, nil
		}
	}
	return send(chunk[T]{b: buf, rows: rows, ends: ends, err: c.err})
}

// newChunk returns an empty buffer for a chunk, one the consumer is done
// with when there is one.
func (o *ordered[T]) newChunk(size int) []T {
	select {
	case b := <-o.free:
		return b[:0]
	default:
		return make([]T, 0, size+size/4)
	}
}

// writeParallel writes every archived row left in rs to enc with workers
// goroutines, and counts them. It returns the first error in output
// order (the rows before it are written) or enc's; it stops its workers
// and closes their files before it returns.
func (rs *Rows) writeParallel(workers int, enc rowEncoder, newAppend func() appendRow) error {
	size := rs.r.chunkBytes
	if size <= 0 {
		size = chunkBytes
	}
	o := startOrdered(rs, workers, size, rs.req.MaxRows > 0, func() convert[byte] { return convert[byte](newAppend()) })
	defer o.stop()
	for {
		ch, ok := o.next()
		if !ok {
			return nil
		}
		if lim := rs.req.MaxRows; lim > 0 && rs.n+ch.rows >= lim {
			// As Next: the rows up to the limit, then its error.
			if k := lim - rs.n; k > 0 {
				if err := enc.WriteEncoded(ch.b[:ch.ends[k-1]]); err != nil {
					return err
				}
			}
			rs.n = lim
			return rs.tooManyRows()
		}
		if len(ch.b) > 0 {
			if err := enc.WriteEncoded(ch.b); err != nil {
				return err
			}
			rs.n += ch.rows
		}
		o.recycle(ch.b)
		if ch.err != nil {
			return ch.err
		}
	}
}

// Mapped is a stream of rows converted to width values of type T each,
// its archived rows read and converted several objects at once when that
// pays (see Rows.parallelism), in the order Rows.Next returns them.
type Mapped[T any] struct {
	rs    *Rows
	width int
	conv  convert[T]
	o     *ordered[T] // nil: one by one
	ch    chunk[T]    // the chunk being read
	at    int         // the current row's first value in ch.b
	left  int64       // rows of ch after the current one
	row   []T
	one   []T // the row converted one by one
}

// Map streams the rows of rs converted by conv, which appends width
// values for a row to dst (newConvert makes one conv per worker: each
// may keep state). Take the rows with Next and Row; Close, or rs.Close,
// stops the workers.
func Map[T any](rs *Rows, width int, newConvert func() func(dst []T, row []parquetio.Value) []T) *Mapped[T] {
	m := &Mapped[T]{rs: rs, width: width, conv: newConvert()}
	if workers := rs.parallelism(); workers > 1 && width > 0 {
		size := rs.r.chunkBytes
		if size <= 0 {
			size = chunkValues
		}
		size = max(size/width, 1) * width
		m.o = startOrdered(rs, workers, size, false, func() convert[T] { return newConvert() })
	}
	return m
}

// Next advances to the next row; false at the end or on an error (the
// Rows' Err).
func (m *Mapped[T]) Next() bool {
	rs := m.rs
	if m.o != nil {
		if rs.err != nil {
			return false
		}
		if rs.req.MaxRows > 0 && rs.n >= rs.req.MaxRows {
			rs.err = rs.tooManyRows()
			return false
		}
		for m.left == 0 {
			if m.ch.err != nil {
				rs.err = m.ch.err
				return false
			}
			if m.ch.b != nil {
				m.o.recycle(m.ch.b)
			}
			ch, ok := m.o.next()
			if !ok {
				m.o.stop()
				m.o, m.ch = nil, chunk[T]{}
				return m.nextOne()
			}
			m.ch, m.left, m.at = ch, ch.rows, -m.width
		}
		m.left--
		m.at += m.width
		m.row = m.ch.b[m.at : m.at+m.width]
		rs.n++
		return true
	}
	return m.nextOne()
}

// nextOne takes the next row from Rows.Next and converts it.
func (m *Mapped[T]) nextOne() bool {
	if !m.rs.Next() {
		return false
	}
	m.one = m.conv(m.one[:0], m.rs.Values())
	m.row = m.one
	return true
}

// Row returns the current row's values; the slice is reused by Next.
func (m *Mapped[T]) Row() []T { return m.row }

// Close stops the workers, if any, and waits for them.
func (m *Mapped[T]) Close() {
	if m.o != nil {
		m.o.stop()
		m.o = nil
	}
}
