package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Conn is the Redis client the shared parts use, with what they know of its
// health. The lead cache and the limiters judge every answer here, so that
// they stop sharing together, say so once, and share again together.
//
// Only a failed connection makes Redis unreachable: one refused, reset or
// closed, or a check on a connection of its own that gets no answer within
// checkTimeout (a Redis that hangs). A late answer on the pool is a slow
// Redis, or a crowd at the pool: the caller tries again rather than pay
// Cashcat for a token another replica may be fetching. A caller's own
// deadline says nothing about Redis.
type Conn struct {
	rdb   *goredis.Client
	check *goredis.Client // one connection, for check alone
	// checkTimeout bounds a check; checkedAt is when the last one started
	// (unix nanoseconds), checking says one is running.
	checkTimeout time.Duration
	checkedAt    atomic.Int64
	checking     atomic.Bool
	log          *slog.Logger
	// downAt is when Redis was last found unreachable (unix nanoseconds),
	// 0 while the replica shares its state.
	downAt atomic.Int64
}

// retryAfter is how long an unreachable Redis is left alone before one
// request tries it again.
const retryAfter = 5 * time.Second

// Open returns the client of the Redis at url. timeout bounds every call
// (dial, pool wait, write and read together), whatever context the caller
// brings: Redis is on the landing page's path.
func Open(url string, timeout time.Duration, log *slog.Logger) (*Conn, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	checkOpt := *opt
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	opt.ContextTimeoutEnabled = true
	// A failed connection is reported at once, not retried: it is the sign
	// that Redis is gone, and retries with their backoff would spend the
	// whole timeout and look like a slow Redis. (The pool drops idle
	// connections the server closed before handing them out.)
	opt.DialerRetries, opt.MaxRetries = 1, -1
	rdb := goredis.NewClient(opt)
	rdb.AddHook(bounded(timeout))

	r := &Conn{rdb: rdb, checkTimeout: 8 * timeout, log: log}
	checkOpt.PoolSize, checkOpt.MaxRetries, checkOpt.DialerRetries = 1, -1, 1
	checkOpt.DialTimeout, checkOpt.ReadTimeout, checkOpt.WriteTimeout = r.checkTimeout, r.checkTimeout, r.checkTimeout
	checkOpt.PoolTimeout = r.checkTimeout
	r.check = goredis.NewClient(&checkOpt)
	return r, nil
}

// Close closes the clients.
func (r *Conn) Close() error { return errors.Join(r.rdb.Close(), r.check.Close()) }

// Shared reports whether this replica shares its lead cache and rate
// limits through Redis (false: it runs unshared, per replica).
func (r *Conn) Shared() bool { return r.downAt.Load() == 0 }

// Check is Shared, after trying Redis again when that is due, so that a
// replica without traffic still reports Redis back (for /readyz).
func (r *Conn) Check(ctx context.Context) bool {
	if !r.Shared() && r.usable() {
		r.judge(ctx, r.rdb.Ping(ctx).Err())
	}
	return r.Shared()
}

// usable reports whether Redis may be asked: it is shared, or it was
// found unreachable long enough ago that this caller may try it again
// (one caller per retryAfter; the others carry on without it).
func (r *Conn) usable() bool {
	at := r.downAt.Load()
	if at == 0 {
		return true
	}
	if time.Since(time.Unix(0, at)) < retryAfter {
		return false
	}
	return r.downAt.CompareAndSwap(at, time.Now().UnixNano())
}

// verdict is what one Redis call says about Redis.
type verdict int

const (
	answered verdict = iota // Redis answered (goredis.Nil is an answer)
	late                    // no answer in time: Redis is slow, try again
	gone                    // the caller's own context ended
	down                    // Redis is unreachable: carry on without it
)

// judge tells what err, returned by a Redis call made with ctx, means, and
// notes it in the health.
func (r *Conn) judge(ctx context.Context, err error) verdict {
	switch {
	case err == nil || errors.Is(err, goredis.Nil):
		// A load first: this runs on every answer, and the swap is rare.
		if r.downAt.Load() != 0 && r.downAt.Swap(0) != 0 {
			r.log.Info("redis reachable again: lead cache and rate limits shared across replicas")
		}
		return answered
	case ctx.Err() != nil:
		return gone
	case timedOut(err) && r.Shared():
		r.checkLater()
		return late
	}
	// While it is unreachable, a late answer does not bring it back.
	r.unreachable(err)
	return down
}

func (r *Conn) unreachable(err error) {
	if errors.Is(err, goredis.ErrClosed) {
		return // shutting down
	}
	if r.downAt.Swap(time.Now().UnixNano()) == 0 {
		r.log.Error("redis unreachable: lead cache and rate limits no longer shared across replicas", "err", err)
	}
}

// checkLater asks Redis, on a connection of its own and with a longer
// timeout, whether it is there at all, unless a check is running or ran
// lately. Only no answer there makes a late Redis unreachable.
func (r *Conn) checkLater() {
	if time.Since(time.Unix(0, r.checkedAt.Load())) < r.checkTimeout || !r.checking.CompareAndSwap(false, true) {
		return
	}
	r.checkedAt.Store(time.Now().UnixNano())
	go func() {
		defer r.checking.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), r.checkTimeout)
		defer cancel()
		if err := r.check.Ping(ctx).Err(); err != nil {
			r.unreachable(err)
		}
	}()
}

// timedOut reports a call that got no answer in time, as opposed to one
// whose connection failed.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, errLate) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, goredis.ErrPoolTimeout) || (errors.As(err, &ne) && ne.Timeout())
}

// errLate marks an error of a call whose time ran out: whatever go-redis
// reports then (the connection it gave up on, say) is lateness, not a
// failed connection.
var errLate = errors.New("redis: no answer within redis.timeout")

// bounded gives every Redis call the client's timeout, dial and pool wait
// included: the limiter's store and script loads bring contexts without a
// deadline.
type bounded time.Duration

func (b bounded) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (b bounded) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		bctx, cancel := context.WithTimeout(ctx, time.Duration(b))
		defer cancel()
		err := next(bctx, cmd)
		if err != nil && bctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errLate, err)
			cmd.SetErr(err)
		}
		return err
	}
}

func (b bounded) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		bctx, cancel := context.WithTimeout(ctx, time.Duration(b))
		defer cancel()
		err := next(bctx, cmds)
		if err != nil && bctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errLate, err)
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					cmd.SetErr(fmt.Errorf("%w: %w", errLate, cmd.Err()))
				}
			}
		}
		return err
	}
}
