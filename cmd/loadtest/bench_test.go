package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
)

// BenchmarkApplyJourneyParallel: BenchmarkApplyJourney's journey by 64
// consumers at once, as the load test's 64 connections: where concurrent
// submissions contend (SQLite's one writer) and where they are batched
// (the store's group commit).
func BenchmarkApplyJourneyParallel(b *testing.B) {
	gin.SetMode(gin.ReleaseMode) // as the load test's server runs
	ch, err := newChild(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ch.st.Close()
	h, _, err := ch.gateway("", true)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	var n atomic.Int64
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0))) // goroutines per P
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := oneApplication(tr, srv.URL, fmt.Sprint("bench", n.Add(1)), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
