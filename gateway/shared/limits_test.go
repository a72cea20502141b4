package shared

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
)

// One client's limit is one limit, whichever replica it reaches.
func TestLimitSharedAcrossReplicas(t *testing.T) {
	rdb := redisForTest(t)
	rate := limiter.Rate{Period: time.Minute, Limit: 3}
	prefix := "test-" + run()
	a := limiter.New(NewLimitStore(rdb, "test:", prefix, quiet), rate)
	b := limiter.New(NewLimitStore(rdb, "test:", prefix, quiet), rate)
	ctx := context.Background()
	for i, l := range []*limiter.Limiter{a, b, a, b} {
		c, err := l.Get(ctx, "203.0.113.7")
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 3; c.Reached != want {
			t.Errorf("request %d: reached %v, want %v", i+1, c.Reached, want)
		}
	}
}

// Redis down: the limits keep working, per replica, without waiting.
func TestLimitFallsBackWhenRedisIsDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	l := limiter.New(NewLimitStore(rdb, "test:", "down", quiet), limiter.Rate{Period: time.Minute, Limit: 2})
	ctx := context.Background()
	start := time.Now()
	var reached []bool
	for range 3 {
		c, err := l.Get(ctx, "203.0.113.7")
		if err != nil {
			t.Fatalf("a dead Redis failed the limiter: %v", err)
		}
		reached = append(reached, c.Reached)
	}
	if reached[0] || reached[1] || !reached[2] {
		t.Errorf("got %v, want the third request limited by the per-replica fallback", reached)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: after one failure Redis must be left alone", d)
	}
}
