// Package redis is leadgate's Redis adapter: the state several replicas
// share through Redis: the lead cache with a lock per token, so that a token is fetched
// from Cashcat once across all replicas, and the rate limiters' store.
// When Redis is unreachable, every part falls back to per-replica
// behaviour and says so: serving consumers comes before sharing state.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// Leads is a cashcat.Source shared by replicas: a Redis cache in front of
// next, with a lock per token so that concurrent first requests on
// different replicas make one Cashcat call. It sits behind each replica's
// in-process cache.
//
// Every Cashcat call is paid, so a second call for a token is made only
// when there can be no first one to wait for: Redis is unreachable, or the
// holder of the token's lock gave it up without an answer (its call failed,
// or it died and the lock expired).
type Leads struct {
	r           *Conn
	next        cashcat.Source
	ttl, negTTL time.Duration
	// callLimit bounds one Cashcat call. lockFor is how long a token's
	// lock outlives a holder that stopped renewing it (it died); the
	// holder renews it while its call is in flight.
	callLimit, lockFor time.Duration
	poll               time.Duration
	prefix             string
	// Fetched, when set, is told each real Cashcat call (metrics).
	Fetched func(*providers.Lead, error)
}

const notFoundMark = "-" // a token Cashcat does not know

// NewLeads returns the shared source, its keys under prefix. callLimit
// bounds one Cashcat call, which runs detached from the requests waiting
// for it so that, once paid for, its answer is kept.
func NewLeads(r *Conn, prefix string, next cashcat.Source, ttl, negTTL, callLimit time.Duration) *Leads {
	return &Leads{r: r, prefix: prefix, next: next, ttl: ttl, negTTL: negTTL,
		callLimit: callLimit, lockFor: callLimit, poll: 10 * time.Millisecond}
}

func (l *Leads) leadKey(token string) string { return l.prefix + "lead:" + token }
func (l *Leads) lockKey(token string) string { return l.prefix + "lead-lock:" + token }

// Lead implements cashcat.Source.
func (l *Leads) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	// One owner for the whole wait: a lock taken by a claim whose answer
	// came too late is still recognised as this caller's.
	owner := randomID()
	for {
		if !l.r.usable() {
			return l.call(ctx, token)
		}
		e, rerr := l.look(ctx, token)
		switch l.r.judge(ctx, rerr) {
		case down:
			return l.call(ctx, token)
		case gone:
			return nil, fmt.Errorf("cashcat: %w", ctx.Err())
		case answered:
			if e.found {
				return e.lead, e.err
			}
			if e.owner == owner {
				return l.fetch(ctx, token, owner)
			}
			if e.owner == "" {
				keys := []string{l.leadKey(token), l.lockKey(token)}
				got, rerr := claim.Run(ctx, l.r.rdb, keys, owner, l.lockFor.Milliseconds(), e.unreadable).Bool()
				switch l.r.judge(ctx, rerr) {
				case down:
					return l.call(ctx, token)
				case answered:
					if got {
						return l.fetch(ctx, token, owner)
					}
				}
			}
		}
		// Late, or another replica is fetching it: look again shortly.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cashcat: %w", ctx.Err())
		case <-time.After(l.poll):
		}
	}
}

// entry is what Redis holds for a token.
type entry struct {
	found bool // an answer: a lead, or a remembered "not found"
	lead  *providers.Lead
	err   error
	owner string // who holds the token's lock, "" if nobody
	// unreadable is an answer that could not be read: it is fetched again
	// and overwritten.
	unreadable string
}

// look reads a token's answer and lock in one round trip.
func (l *Leads) look(ctx context.Context, token string) (entry, error) {
	vs, err := l.r.rdb.MGet(ctx, l.leadKey(token), l.lockKey(token)).Result()
	if err != nil || len(vs) != 2 {
		return entry{}, err
	}
	var e entry
	e.owner, _ = vs[1].(string)
	switch v, _ := vs[0].(string); {
	case v == "":
	case v == notFoundMark:
		e.found, e.err = true, fmt.Errorf("cashcat: %w (shared cache)", providers.ErrNotFound)
	default:
		e.lead = new(providers.Lead)
		if e.found = json.Unmarshal([]byte(v), e.lead) == nil; !e.found {
			e.unreadable = v
		}
	}
	return e, nil
}

// call makes the real, paid Cashcat call, and counts it.
func (l *Leads) call(ctx context.Context, token string) (*providers.Lead, error) {
	lead, err := l.next.Lead(ctx, token)
	if l.Fetched != nil {
		l.Fetched(lead, err)
	}
	return lead, err
}

// fetch makes the call while holding the token's lock. The call goes on
// when ctx ends, and its answer is stored for every replica: it is paid
// for, and the other replicas are waiting for it.
func (l *Leads) fetch(ctx context.Context, token, owner string) (*providers.Lead, error) {
	type result struct {
		lead *providers.Lead
		err  error
	}
	done := make(chan result, 1)
	go func() {
		stop := l.hold(token, owner)
		defer stop()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.callLimit)
		defer cancel()
		lead, err := l.call(cctx, token)
		l.settle(token, owner, lead, err)
		done <- result{lead, err}
	}()
	select {
	case r := <-done:
		return r.lead, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("cashcat: %w", ctx.Err())
	}
}

// hold renews the token's lock until stop is called, so that a call
// longer than lockFor (or an answer slow to store) is not taken over.
func (l *Leads) hold(token, owner string) (stop func()) {
	quit := make(chan struct{})
	go func() {
		t := time.NewTicker(l.lockFor / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				err := renew.Run(context.Background(), l.r.rdb, []string{l.lockKey(token)}, owner, l.lockFor.Milliseconds()).Err()
				l.r.judge(context.Background(), err)
			}
		}
	}()
	return func() { close(quit) }
}

// settle stores the answer and releases the lock (if still ours), trying
// again while Redis is late: the waiters would otherwise take the lock
// over and pay again. An unreachable Redis is left at once: the waiters
// then call for themselves anyway.
func (l *Leads) settle(token, owner string, lead *providers.Lead, err error) {
	var value string
	var ttl time.Duration
	switch {
	case err == nil:
		if b, merr := json.Marshal(lead); merr == nil {
			value, ttl = string(b), l.ttl
		}
	case errors.Is(err, providers.ErrNotFound) && l.negTTL > 0:
		value, ttl = notFoundMark, l.negTTL
	}
	keys := []string{l.leadKey(token), l.lockKey(token)}
	for end := time.Now().Add(l.lockFor); ; {
		rerr := store.Run(context.Background(), l.r.rdb, keys, value, ttl.Milliseconds(), owner).Err()
		if l.r.judge(context.Background(), rerr) != late || time.Now().After(end) {
			return
		}
		time.Sleep(l.poll)
	}
}

var (
	// claim takes the token's lock unless it is taken or an answer is
	// there (other than the unreadable one the caller saw): a holder may
	// have answered and let go since the caller looked.
	claim = goredis.NewScript(`local v = redis.call("GET", KEYS[1])
if v and v ~= ARGV[3] then return 0 end
if redis.call("SET", KEYS[2], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
return 0`)
	renew = goredis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)
	// store writes the answer (if any) even when the lock is no longer
	// ours, and releases the lock only if it is.
	store = goredis.NewScript(`if ARGV[1] ~= "" then redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) end
if redis.call("GET", KEYS[2]) == ARGV[3] then redis.call("DEL", KEYS[2]) end
return 1`)
)

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
