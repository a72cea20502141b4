// Package bounded is patrickmn/go-cache with a bound: what every
// per-token structure of leadgate (leads, answers derived from them, opened
// cookies, rate-limit counters) is kept in. go-cache keeps each entry for
// its time to live, but has no size bound (LIBRARIES.md), and anyone can
// bring a new token or a new address: so a first-in, first-out order of
// arrivals is kept beside it, and when the cache is full the oldest entry
// goes, never the new one (refusing new entries would make the newest
// consumers, the ones still on the page, pay for the oldest).
package bounded

import (
	"runtime"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// Cache holds at most max entries, each for its time to live. Entries
// leave in the order they came: a full cache drops its oldest entry to
// take a new one, and expired entries at the old end are dropped as new
// ones arrive and by a sweep every time to live (so that a lead's personal
// data does not outstay its time once traffic stops). Overwriting a live
// key keeps its place.
type Cache[V any] struct{ *cache[V] }

// cache is the Cache itself; the sweeper holds this, not the Cache, so
// that a Cache no one holds is collected and its sweeper stopped.
type cache[V any] struct {
	// items holds the entries and their expiry. Reads go straight to it
	// (go-cache has its own lock); writers also hold mu, which guards the
	// order and the bound.
	items *gocache.Cache
	mu    sync.Mutex
	order ring
	seq   uint64
	max   int
	ttl   time.Duration
}

// slot is what go-cache holds under a key: the value and the arrival that
// placed it. A place in the order whose arrival no longer matches the
// slot under its key (the key expired and came back, or was deleted) is
// spent: it frees room without evicting the newer entry.
type slot[V any] struct {
	v   V
	seq uint64
}

// place is one arrival in the order.
type place struct {
	key string
	seq uint64
}

// New returns a cache of at most limit entries (at least 1) living ttl each.
//
// go-cache's janitor is not started: it sweeps the whole map under its
// write lock, which at a million leads stalls every reader for tens of
// milliseconds. The sweep here walks the order from its old end instead,
// a bounded number of places at a time.
func New[V any](limit int, ttl time.Duration) *Cache[V] {
	in := &cache[V]{items: gocache.New(ttl, 0), max: max(limit, 1), ttl: ttl}
	c := &Cache[V]{in}
	if ttl > 0 {
		stop := make(chan struct{})
		go in.sweeper(min(ttl, time.Minute), stop)
		runtime.AddCleanup(c, func(stop chan struct{}) { close(stop) }, stop)
	}
	return c
}

// sweeper drops expired entries from the old end every interval.
func (c *cache[V]) sweeper(every time.Duration, stop chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.sweep(sweepBatch)
		}
	}
}

// sweepBatch bounds one sweep's hold of the writers' lock; what is left
// goes at the next tick, or as new entries arrive.
const sweepBatch = 4096

// sweep drops up to n spent places, and their expired entries, from the
// old end.
func (c *cache[V]) sweep(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		if p, ok := c.order.peek(); !ok || c.live(p) {
			return
		}
		c.order.pop()
	}
}

// Get returns the live value under k.
func (c *Cache[V]) Get(k string) (V, bool) {
	o, ok := c.items.Get(k)
	if !ok {
		var zero V
		return zero, false
	}
	return o.(slot[V]).v, true
}

// GetExpiry returns the live value under k and when it expires.
func (c *Cache[V]) GetExpiry(k string) (V, time.Time, bool) {
	o, exp, ok := c.items.GetWithExpiration(k)
	if !ok {
		var zero V
		return zero, time.Time{}, false
	}
	return o.(slot[V]).v, exp, true
}

// Set keeps v under k for the cache's time to live.
func (c *Cache[V]) Set(k string, v V) { c.SetTTL(k, v, c.ttl) }

// SetTTL keeps v under k for ttl; a ttl of zero or less keeps nothing
// (go-cache would read it as "the default" or "forever").
func (c *Cache[V]) SetTTL(k string, v V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	c.set(k, v, ttl)
	c.mu.Unlock()
}

// set stores v under k; c.mu is held.
func (c *cache[V]) set(k string, v V, ttl time.Duration) {
	if o, ok := c.items.Get(k); ok {
		c.items.Set(k, slot[V]{v, o.(slot[V]).seq}, ttl)
		return
	}
	// Spent places at the old end leave first, two per arrival at most:
	// the cache shrinks back after a burst as fast as it grew, and no one
	// arrival pays for sweeping a hundred thousand.
	for range 2 {
		if p, ok := c.order.peek(); !ok || c.live(p) {
			break
		}
		c.order.pop()
	}
	for c.order.size >= c.max {
		if p := c.order.pop(); c.live(p) {
			c.items.Delete(p.key)
		}
	}
	c.seq++
	c.items.Set(k, slot[V]{v, c.seq}, ttl)
	c.order.push(place{k, c.seq})
}

// live reports whether p still holds a live entry. An expired entry is
// freed on the way (whatever arrival placed it: nothing live is lost).
func (c *cache[V]) live(p place) bool {
	o, ok := c.items.Get(p.key)
	if !ok {
		c.items.Delete(p.key)
		return false
	}
	return o.(slot[V]).seq == p.seq
}

// Update replaces k's value by f(value, live) as one step, and returns it
// with its expiry: a live entry keeps its expiry, a new or expired one
// gets ttl from now.
func (c *Cache[V]) Update(k string, ttl time.Duration, f func(v V, live bool) V) (V, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, exp, ok := c.items.GetWithExpiration(k); ok {
		if left := time.Until(exp); left > 0 {
			s := o.(slot[V])
			s.v = f(s.v, true)
			c.items.Set(k, s, left)
			return s.v, exp
		}
	}
	var zero V
	v := f(zero, false)
	if ttl > 0 {
		c.set(k, v, ttl)
	}
	return v, time.Now().Add(ttl)
}

// Delete removes k's value; its place in the order is spent, and leaves
// when its turn comes.
func (c *Cache[V]) Delete(k string) { c.items.Delete(k) }

// Len is the number of entries held, expired ones not yet dropped included.
func (c *Cache[V]) Len() int { return c.items.ItemCount() }

// ring is a first-in, first-out queue of places that grows as needed.
type ring struct {
	buf        []place
	head, size int
}

func (r *ring) push(p place) {
	if r.size == len(r.buf) {
		grown := make([]place, max(16, 2*len(r.buf)))
		n := copy(grown, r.buf[r.head:])
		copy(grown[n:], r.buf[:r.head])
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = p
	r.size++
}

func (r *ring) peek() (place, bool) {
	if r.size == 0 {
		return place{}, false
	}
	return r.buf[r.head], true
}

func (r *ring) pop() place {
	p := r.buf[r.head]
	r.buf[r.head] = place{}
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return p
}

// Hot bounds the caches of what is derived per token or per cookie in use
// now (a parsed lead, a formatted answer, an opened cookie): a few
// thousand consumers on their pages at once on one replica. Each is
// rebuilt in microseconds from what is kept longer (a lead's record, the
// cookie itself), so past this bound it is cheaper to rebuild than to
// keep: a hundred thousand cached leads would otherwise carry twice
// their own weight in answers.
const Hot = 4096
