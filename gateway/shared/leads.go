// Package shared is the state several leadgate replicas share through
// Redis: the lead cache with a lock per token, so that a token is fetched
// from Cashcat once across all replicas, and the rate limiters' store.
// When Redis is down, every part falls back to per-replica behaviour and
// says so: serving consumers comes before sharing state.
package shared

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// Leads is a cashcat.Source shared by replicas: a Redis cache in front of
// next, with a lock per token so that concurrent first requests on
// different replicas make one Cashcat call. It sits behind each replica's
// in-process cache.
type Leads struct {
	rdb         *redis.Client
	next        cashcat.Source
	ttl, negTTL time.Duration
	lockFor     time.Duration
	poll        time.Duration
	log         *slog.Logger
	prefix      string
	// downAt is when Redis last failed (unix nanoseconds), 0 while it
	// answers.
	downAt atomic.Int64
	// Fetched, when set, is told each real Cashcat call (metrics).
	Fetched func(*providers.Lead, error)
}

const notFoundMark = "-" // a token Cashcat does not know

// NewLeads returns the shared source, its keys under prefix. lockFor
// bounds how long one replica may hold a token's lock (its Cashcat call's
// own limit).
func NewLeads(rdb *redis.Client, prefix string, next cashcat.Source, ttl, negTTL, lockFor time.Duration, log *slog.Logger) *Leads {
	return &Leads{rdb: rdb, prefix: prefix, next: next, ttl: ttl, negTTL: negTTL, lockFor: lockFor, poll: 10 * time.Millisecond, log: log}
}

func (l *Leads) leadKey(token string) string { return l.prefix + "lead:" + token }
func (l *Leads) lockKey(token string) string { return l.prefix + "lead-lock:" + token }

// Lead implements cashcat.Source.
func (l *Leads) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	// After a failure Redis is left alone for a while: a consumer must not
	// wait on a dead connection at every landing.
	if at := l.downAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < retryAfter {
		return l.direct(ctx, token, nil)
	}
	for {
		lead, err, found, rerr := l.get(ctx, token)
		if rerr != nil {
			return l.direct(ctx, token, rerr)
		}
		if found {
			return lead, err
		}
		owner := randomID()
		got, rerr := l.rdb.SetNX(ctx, l.lockKey(token), owner, l.lockFor).Result()
		if rerr != nil {
			return l.direct(ctx, token, rerr)
		}
		if got {
			return l.fetch(ctx, token, owner)
		}
		// Another replica is fetching it: wait for its answer, or for its
		// lock to go (it died, or failed without caching), then try again.
		if lead, err, done := l.await(ctx, token); done {
			return lead, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cashcat: %w", ctx.Err())
		}
	}
}

// get reads the shared entry: found says there is one (a lead, or a
// remembered "not found"); rerr is Redis failing.
func (l *Leads) get(ctx context.Context, token string) (lead *providers.Lead, err error, found bool, rerr error) {
	v, rerr := l.rdb.Get(ctx, l.leadKey(token)).Result()
	if rerr != nil && !errors.Is(rerr, redis.Nil) {
		return nil, nil, false, rerr
	}
	l.recovered() // Redis answered, even if it had nothing
	if rerr != nil {
		return nil, nil, false, nil
	}
	if v == notFoundMark {
		return nil, fmt.Errorf("cashcat: %w (shared cache)", providers.ErrNotFound), true, nil
	}
	lead = new(providers.Lead)
	if json.Unmarshal([]byte(v), lead) != nil {
		return nil, nil, false, nil // unreadable: fetch again and overwrite
	}
	return lead, nil, true, nil
}

// call makes the real, paid Cashcat call, and counts it.
func (l *Leads) call(ctx context.Context, token string) (*providers.Lead, error) {
	lead, err := l.next.Lead(ctx, token)
	if l.Fetched != nil {
		l.Fetched(lead, err)
	}
	return lead, err
}

func (l *Leads) fetch(ctx context.Context, token, owner string) (*providers.Lead, error) {
	lead, err := l.call(ctx, token)
	// The answer is written even if this caller has gone: the others wait.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	switch {
	case err == nil:
		if b, merr := json.Marshal(lead); merr == nil {
			l.rdb.Set(wctx, l.leadKey(token), b, l.ttl)
		}
	case errors.Is(err, providers.ErrNotFound) && l.negTTL > 0:
		l.rdb.Set(wctx, l.leadKey(token), notFoundMark, l.negTTL)
	}
	// Release the lock only if it is still ours (it may have expired and
	// been taken by another replica meanwhile).
	unlock.Run(wctx, l.rdb, []string{l.lockKey(token)}, owner)
	return lead, err
}

var unlock = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// await polls for the answer while the lock is held by someone else.
func (l *Leads) await(ctx context.Context, token string) (*providers.Lead, error, bool) {
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-t.C:
		}
		lead, err, found, rerr := l.get(ctx, token)
		if rerr != nil {
			lead, err = l.direct(ctx, token, rerr)
			return lead, err, true
		}
		if found {
			return lead, err, true
		}
		if n, rerr := l.rdb.Exists(ctx, l.lockKey(token)).Result(); rerr == nil && n == 0 {
			return nil, nil, false // the holder is gone without an answer
		}
	}
}

// direct calls Cashcat without the shared cache: Redis is down, and a
// consumer's page matters more than one more paid call.
func (l *Leads) direct(ctx context.Context, token string, cause error) (*providers.Lead, error) {
	if cause != nil {
		if l.downAt.Swap(time.Now().UnixNano()) == 0 {
			l.log.Error("redis unreachable: lead cache no longer shared across replicas", "err", cause)
		}
	}
	return l.call(ctx, token)
}

func (l *Leads) recovered() {
	if l.downAt.Swap(0) != 0 {
		l.log.Info("redis reachable again: lead cache shared across replicas")
	}
}

// Healthy reports whether Redis answered the last time it was asked.
func (l *Leads) Healthy() bool { return l.downAt.Load() == 0 }

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
