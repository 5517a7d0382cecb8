package ingest

import (
	"io"
	"sort"
)

// Positions remembers where each record of an input stands: its line, or
// its position in a JSON array, by the record's 0-based index. Runs of
// consecutive lines are kept as one jump, so the usual input (no blank
// lines) costs one entry however many records it holds.
type Positions struct {
	array bool
	n     int // records seen
	jumps []jump
}

// jump: record index starts a run at line.
type jump struct{ index, line int }

// Scan reads r as ScanAuto does, remembering each record's line (or array
// position), and calls fn with the records in order.
func (p *Positions) Scan(r io.Reader, maxRecord int64, fn func(rec []byte) error) error {
	return ScanAuto(&sniffer{r: r, p: p}, maxRecord, func(line int, rec []byte) error {
		p.add(p.n, line)
		p.n++
		return fn(rec)
	})
}

// Array reports whether the input was a JSON array.
func (p *Positions) Array() bool { return p.array }

func (p *Positions) add(index, line int) {
	if n := len(p.jumps); n > 0 && p.jumps[n-1].line+(index-p.jumps[n-1].index) == line {
		return
	}
	p.jumps = append(p.jumps, jump{index, line})
}

// Line returns the 1-based line (or array position) of record index.
func (p *Positions) Line(index int) int {
	i := sort.Search(len(p.jumps), func(i int) bool { return p.jumps[i].index > index })
	if i == 0 {
		return index + 1
	}
	j := p.jumps[i-1]
	return j.line + index - j.index
}

// sniffer reads through r and sets p.array when the first byte that is
// not white space is '[', as ScanAuto decides.
type sniffer struct {
	r    io.Reader
	p    *Positions
	done bool
}

func (s *sniffer) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	for i := 0; i < n && !s.done; i++ {
		if !isSpace(b[i]) {
			s.p.array, s.done = b[i] == '[', true
		}
	}
	return n, err
}
