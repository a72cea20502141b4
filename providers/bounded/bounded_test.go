package bounded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

// A full cache drops its oldest entry to take a new one: it never refuses
// the newest, and never holds more than its bound.
func TestFullCacheEvictsOldestFirst(t *testing.T) {
	c := New[int](3, time.Hour)
	for i := range 5 {
		c.Set(fmt.Sprint(i), i)
	}
	if got := c.Len(); got != 3 {
		t.Fatalf("len: got %d, want 3", got)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := c.Get(fmt.Sprint(i)); ok != want {
			t.Errorf("key %d kept: got %v, want %v", i, ok, want)
		}
	}
	// Overwriting keeps the key's place: it is still the oldest left.
	c.Set("2", 20)
	c.Set("5", 5)
	if _, ok := c.Get("2"); ok {
		t.Error("key 2, overwritten but oldest, was kept past a new arrival")
	}
	if v, _ := c.Get("4"); v != 4 {
		t.Errorf("key 4: got %d, want 4", v)
	}
}

// Expired entries are not returned, and leave as new ones arrive, so an
// idle burst does not hold its memory. (go-cache keeps time by the real
// clock: the entries live 20 ms and the test waits longer than that, so a
// slow machine only makes them more expired.)
func TestExpiredEntriesLeave(t *testing.T) {
	c := New[int](100, 20*time.Millisecond)
	for i := range 10 {
		c.Set(fmt.Sprint(i), i)
	}
	time.Sleep(50 * time.Millisecond)
	if _, ok := c.Get("3"); ok {
		t.Error("an expired entry was returned")
	}
	for i := range 5 {
		c.SetTTL(fmt.Sprint("new", i), i, time.Hour)
	}
	if got := c.Len(); got != 5 {
		t.Errorf("after 5 arrivals: got %d entries, want 5 (the 10 expired ones gone)", got)
	}
	c.Delete("new0")
	if _, ok := c.Get("new0"); ok {
		t.Error("a deleted entry was returned")
	}
	// A key that expired and came back is not evicted by its first,
	// spent, place in the order.
	c.SetTTL("back", 1, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	c.SetTTL("back", 2, time.Hour)
	// 99 more: the four new ones ahead of it are evicted, and its spent
	// place reaches the old end.
	for i := range 99 {
		c.SetTTL(fmt.Sprint("more", i), i, time.Hour)
	}
	if v, ok := c.Get("back"); !ok || v != 2 {
		t.Errorf("key back: got %d, %v; want 2, its second arrival not yet the oldest", v, ok)
	}
	if n := c.Len(); n > 100 {
		t.Errorf("len: got %d, want at most the bound 100", n)
	}
}

// The limit store counts in fixed windows like ulule's memory store, and
// stays within its bound however many keys come.
func TestLimitStore(t *testing.T) {
	s := NewLimitStore(1000)
	rate := limiter.Rate{Period: time.Minute, Limit: 2}
	ctx := context.Background()
	for i, reached := range []bool{false, false, true} {
		lc, _ := s.Get(ctx, "1.2.3.4", rate)
		if lc.Reached != reached || lc.Limit != 2 {
			t.Errorf("hit %d: got %+v, want reached %v", i+1, lc, reached)
		}
	}
	if lc, _ := s.Peek(ctx, "1.2.3.4", rate); lc.Remaining != 0 || !lc.Reached {
		t.Errorf("peek: got %+v, want the limit reached", lc)
	}
	if lc, _ := s.Peek(ctx, "5.6.7.8", rate); lc.Remaining != 2 {
		t.Errorf("peek of a new key: got %+v, want 2 remaining", lc)
	}
	s.Reset(ctx, "1.2.3.4", rate)
	if lc, _ := s.Get(ctx, "1.2.3.4", rate); lc.Reached {
		t.Errorf("after reset: got %+v", lc)
	}
	for i := range 5000 {
		s.Get(ctx, fmt.Sprint("k", i), rate)
	}
	if got := s.Len(); got != 1000 {
		t.Errorf("after 5000 keys: got %d counters, want the bound 1000", got)
	}
}

// Expired entries leave even when nothing new arrives: a lead's personal
// data does not stay in memory past its time once traffic stops.
func TestExpiredEntriesSweptWithoutArrivals(t *testing.T) {
	c := New[int](100, 20*time.Millisecond)
	for i := range 50 {
		c.Set(fmt.Sprint(i), i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := c.Len(); n != 0 {
		t.Errorf("10 s after 50 entries of 20 ms: %d still held, want 0", n)
	}
}
