package redis

import (
	"context"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

// One client's limit is one limit, whichever replica it reaches.
func TestLimitSharedAcrossReplicas(t *testing.T) {
	url := redisForTest(t)
	rate := limiter.Rate{Period: time.Minute, Limit: 3}
	prefix := "test-" + run()
	a := limiter.New(NewLimitStore(open(t, url, 250*time.Millisecond), "test:", prefix), rate)
	b := limiter.New(NewLimitStore(open(t, url, 250*time.Millisecond), "test:", prefix), rate)
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

// Redis down or hung: the limits keep working, per replica, and no
// request waits on Redis longer than one bounded call.
func TestLimitsDoNotWaitOnRedis(t *testing.T) {
	tests := []struct {
		name, url string
		timeout   time.Duration
	}{
		{"refused", "redis://127.0.0.1:1/0", 250 * time.Millisecond},
		{"hung", hungRedis(t), 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, tt.url, tt.timeout)
			l := limiter.New(NewLimitStore(r, "test:", "down"), limiter.Rate{Period: time.Minute, Limit: 2})
			var reached []bool
			for range 3 {
				start := time.Now()
				c, err := l.Get(context.Background(), "203.0.113.7")
				if err != nil {
					t.Fatalf("Redis failed the limiter: %v", err)
				}
				// Generous: the machine may be loaded.
				if d := time.Since(start); d > time.Second {
					t.Errorf("a limit took %v, want at most about %v (redis.timeout)", d, tt.timeout)
				}
				reached = append(reached, c.Reached)
			}
			if reached[0] || reached[1] || !reached[2] {
				t.Errorf("got %v, want the third request limited by the per-replica fallback", reached)
			}
		})
	}
}
