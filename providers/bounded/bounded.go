// Package bounded is a map with a bound and a time to live: what every
// per-token structure of leadgate (leads, answers derived from them, opened
// cookies, rate-limit counters) is kept in. Anyone can bring a new token
// or a new address, so nothing that grows per token may grow without end;
// and when it is full, the oldest entry goes, never the new one (refusing
// new entries would make the newest consumers, the ones still on the page,
// pay for the oldest).
package bounded

import (
	"sync"
	"time"
)

// Cache holds at most max entries, each for its time to live. Entries
// leave in the order they came (first in, first out): a full cache drops
// its oldest entry to take a new one, and expired entries at the old end
// are dropped as new ones arrive. Overwriting a key keeps its place.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	items map[K]entry[V]
	order ring[K]
	max   int
	ttl   time.Duration
	now   func() time.Time
}

type entry[V any] struct {
	v       V
	expires int64 // unix nanoseconds
}

// New returns a cache of at most limit entries (at least 1) living ttl each.
func New[K comparable, V any](limit int, ttl time.Duration) *Cache[K, V] {
	return &Cache[K, V]{items: map[K]entry[V]{}, max: max(limit, 1), ttl: ttl, now: time.Now}
}

// Get returns the live value under k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	now := c.now().UnixNano()
	c.mu.Lock()
	e, ok := c.items[k]
	c.mu.Unlock()
	if !ok || e.expires <= now {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Set keeps v under k for the cache's time to live.
func (c *Cache[K, V]) Set(k K, v V) { c.SetTTL(k, v, c.ttl) }

// SetTTL keeps v under k for ttl.
func (c *Cache[K, V]) SetTTL(k K, v V, ttl time.Duration) {
	now := c.now().UnixNano()
	c.mu.Lock()
	c.set(k, v, now, now+int64(ttl))
	c.mu.Unlock()
}

func (c *Cache[K, V]) set(k K, v V, now, expires int64) {
	if _, ok := c.items[k]; ok {
		c.items[k] = entry[V]{v, expires}
		return
	}
	// Two expired entries leave per arrival: the cache shrinks back after
	// a burst as fast as it grew.
	for range 2 {
		if old, ok := c.order.peek(); !ok || c.items[old].expires > now {
			break
		}
		delete(c.items, c.order.pop())
	}
	for len(c.items) >= c.max {
		delete(c.items, c.order.pop())
	}
	c.items[k] = entry[V]{v, expires}
	c.order.push(k)
}

// Update replaces k's value by f(value, live) under the cache's lock, as
// one step, and returns it with its expiry: a live entry keeps its expiry,
// a new or expired one gets ttl from now.
func (c *Cache[K, V]) Update(k K, ttl time.Duration, f func(v V, live bool) V) (V, time.Time) {
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if ok && e.expires > now {
		e.v = f(e.v, true)
		c.items[k] = e
		return e.v, time.Unix(0, e.expires)
	}
	var zero V
	v, expires := f(zero, false), now+int64(ttl)
	c.set(k, v, now, expires)
	return v, time.Unix(0, expires)
}

// Delete removes k's value; its place in the order is freed when its turn
// comes.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	if e, ok := c.items[k]; ok {
		// Kept as expired, so that the order and the map hold the same
		// keys; it leaves from the old end like any other.
		e.expires = 0
		var zero V
		e.v = zero
		c.items[k] = e
	}
	c.mu.Unlock()
}

// Len is the number of entries held, expired ones not yet dropped included.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// ring is a first-in, first-out queue of keys that grows as needed.
type ring[K any] struct {
	buf        []K
	head, size int
}

func (r *ring[K]) push(k K) {
	if r.size == len(r.buf) {
		grown := make([]K, max(16, 2*len(r.buf)))
		n := copy(grown, r.buf[r.head:])
		copy(grown[n:], r.buf[:r.head])
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = k
	r.size++
}

func (r *ring[K]) peek() (K, bool) {
	if r.size == 0 {
		var zero K
		return zero, false
	}
	return r.buf[r.head], true
}

func (r *ring[K]) pop() K {
	var zero K
	k := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return k
}
