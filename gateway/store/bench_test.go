package store

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/leadgate/leadgate/gateway/store/storetest"
)

// BenchmarkCreate: storing one application (sealed, its duplicate keys,
// the draft closed), one submission at a time.
func BenchmarkCreate(b *testing.B) {
	s := storetest.SQLite(b, Open)
	i := 0
	for b.Loop() {
		i++
		if _, _, err := s.Create(context.Background(), benchApp(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateParallel: 64 submissions at once, as under the load
// test's 64 connections: what the store's write path does under
// contention (group commit).
func BenchmarkCreateParallel(b *testing.B) {
	s := storetest.SQLite(b, Open)
	var n atomic.Int64
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0))) // goroutines per P
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Create(context.Background(), benchApp(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchApp(i int) New {
	a := newApp(fmt.Sprintf("bench-%d", i), fmt.Sprintf("form-%d", i))
	a.Keys = []string{fmt.Sprintf("email-%d", i), fmt.Sprintf("phone-%d", i)}
	a.DraftKey = fmt.Sprintf("draft-%d", i)
	return a
}
