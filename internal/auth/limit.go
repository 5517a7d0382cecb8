package auth

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// Failed attempts allowed per client address: a burst of FailBurst, then
// one per FailEvery. An address over the limit is refused every request
// that carries credentials, right or wrong, until it has waited: otherwise
// the refusal itself would tell a right guess from a wrong one.
const (
	FailBurst = 10
	FailEvery = 6 * time.Second
	// MaxTracked bounds the addresses remembered; past it, new addresses
	// share one bucket (a client with that many addresses is an attack).
	MaxTracked = 1 << 16
)

// Limiter counts failed attempts per client address (IPv4 address, or
// IPv6 /64, so one host cannot rotate through its own prefix). It is safe
// for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[netip.Prefix]*bucket
}

// bucket holds the attempts an address has left, as of at.
type bucket struct {
	left float64
	at   time.Time
}

// NewLimiter returns a Limiter reading time from now (time.Now when nil).
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, buckets: map[netip.Prefix]*bucket{}}
}

// Blocked reports whether the client at remote (an http.Request's
// RemoteAddr, host:port) has no attempt left, and how long until it has.
func (l *Limiter) Blocked(remote string) (wait time.Duration, blocked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[l.key(remote)]
	if !ok {
		return 0, false
	}
	left := b.refill(l.now())
	if left >= 1 {
		return 0, false
	}
	return time.Duration((1 - left) * float64(FailEvery)), true
}

// Fail records one failed attempt by the client at remote.
func (l *Limiter) Fail(remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) >= MaxTracked {
		l.sweep(now)
	}
	p := l.key(remote)
	b, ok := l.buckets[p]
	if !ok {
		b = &bucket{left: FailBurst, at: now}
		l.buckets[p] = b
	}
	b.left = max(b.refill(now)-1, 0)
	b.at = now
}

// key is the bucket of the client at remote: its own, or, once MaxTracked
// addresses are remembered, the one all others share.
func (l *Limiter) key(remote string) netip.Prefix {
	p := prefixOf(remote)
	if _, ok := l.buckets[p]; !ok && len(l.buckets) >= MaxTracked {
		return netip.Prefix{}
	}
	return p
}

// sweep forgets the addresses whose attempts are all back.
func (l *Limiter) sweep(now time.Time) {
	for p, b := range l.buckets {
		if b.refill(now) >= FailBurst {
			delete(l.buckets, p)
		}
	}
}

// refill returns the attempts left at now.
func (b *bucket) refill(now time.Time) float64 {
	gained := float64(now.Sub(b.at)) / float64(FailEvery)
	return math.Min(FailBurst, b.left+max(gained, 0))
}

// prefixOf is the key of a client address: the IPv4 address, or the /64
// of an IPv6 one. An address that does not parse gets the zero Prefix,
// which all such share.
func prefixOf(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	var a netip.Addr
	if err == nil {
		a = ap.Addr().Unmap()
	} else if a, err = netip.ParseAddr(remote); err != nil {
		return netip.Prefix{}
	}
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.WithZone("").Prefix(bits)
	return p
}
