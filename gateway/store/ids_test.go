package store

import (
	"context"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// An id starts with the time it was made, so later ids sort after earlier
// ones, and ends with 128 bits that vary from one id to the next: every one
// of them takes both values across a thousand ids made in one millisecond.
func TestNewIDSortsByTimeAndKeeps128RandomBits(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 50 {
		ids = append(ids, NewID(at.Add(time.Duration(i)*time.Millisecond)))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids made a millisecond apart do not sort by time: %v", ids)
	}
	if got := NewID(at); !strings.HasPrefix(got, "01a2185edd80") || !ValidID(got) {
		t.Errorf("NewID(%s) = %q, want 12 hex digits of Unix milliseconds then 32 random ones", at, got)
	}
	var ones, zeros [16]byte
	seen := map[string]bool{}
	for range 1000 {
		id := NewID(at)
		b, err := hex.DecodeString(id[12:])
		if err != nil || len(b) != 16 {
			t.Fatalf("random part of %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		for i := range b {
			ones[i] |= b[i]
			zeros[i] |= ^b[i]
		}
	}
	for i := range ones {
		if ones[i] != 0xff || zeros[i] != 0xff {
			t.Errorf("random byte %d: bits %08b never set, %08b never clear", i, ^ones[i], ^zeros[i])
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		NewID(time.Now()):                        true,
		strings.Repeat("ab", 16):                 true, // an id made before NewID
		strings.Repeat("a", 43):                  false,
		strings.Repeat("a", 45):                  false,
		strings.Repeat("A", 32):                  false,
		"01a2185edd80" + strings.Repeat("g", 32): false,
		"../../etc/passwd":                       false,
		"":                                       false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

// Applications with NewID's ids write fewer WAL pages than with random ids
// (the ids made before it): a batch of them shares the rightmost leaf of
// each index keyed by the id instead of dirtying a leaf each. The
// checkpointer is held off, so the WAL's size is every page written.
func TestNewIDsWriteFewerPages(t *testing.T) {
	const n = 3000
	pages := func(id func() string) float64 {
		s, path := open(t)
		s.writer.every = time.Hour
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32) // applications arriving together
		for range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				app := newApp(id(), NewID(time.Now())[12:]) // idempotency keys are random either way
				if _, _, err := s.Create(context.Background(), app); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return float64(fi.Size()) / (4096 + 24) / n // a frame is a page and its header
	}
	random := pages(func() string { return NewID(time.Now())[12:] })
	ordered := pages(func() string { return NewID(time.Now()) })
	if ordered > 0.9*random {
		t.Errorf("%.2f WAL pages per application with NewID, %.2f with random ids; want at most 90 %%", ordered, random)
	}
	t.Logf("%.2f WAL pages per application with NewID, %.2f with random ids", ordered, random)
}
