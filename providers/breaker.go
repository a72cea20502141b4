package providers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerConfig is the `breaker:` block of an upstream in the config.
type BreakerConfig struct {
	// Failures is how many consecutive failures open the breaker.
	Failures uint32 `yaml:"failures"`
	// OpenFor is how long it stays open before one trial call is let through.
	OpenFor time.Duration `yaml:"open_for"`
}

// NewBreaker returns a circuit breaker for one upstream. Answers that say the
// upstream is healthy but the request was not for it (an unknown token, a
// 4xx of our own making) and our own cancellations are not counted, so they
// can never open it (STYLE 7).
func NewBreaker[T any](name string, cfg BreakerConfig, onChange func(name string, from, to gobreaker.State)) *gobreaker.CircuitBreaker[T] {
	failures := cfg.Failures
	if failures == 0 {
		failures = 5
	}
	return gobreaker.NewCircuitBreaker[T](gobreaker.Settings{
		Name:    name,
		Timeout: cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= failures
		},
		OnStateChange: onChange,
		IsExcluded: func(err error) bool {
			return errors.Is(err, ErrNotFound) || errors.Is(err, ErrRejectedRequest) ||
				errors.Is(err, context.Canceled)
		},
	})
}

// ErrBreakerOpen wraps ErrUnavailable and ErrNotDelivered: the call was
// not made at all.
var ErrBreakerOpen = fmt.Errorf("%w: %w: circuit breaker open", ErrUnavailable, ErrNotDelivered)

// Guard runs fn through cb, turning the breaker's own refusals into
// ErrBreakerOpen so callers need to know only the providers' errors.
func Guard[T any](cb *gobreaker.CircuitBreaker[T], fn func() (T, error)) (T, error) {
	v, err := cb.Execute(fn)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return v, ErrBreakerOpen
	}
	return v, err
}

// Ended is ctx's error once its deadline has passed, even in the moment
// before its timer marks it done: a network call's own read deadline, set
// from ctx's, can end first, and the caller would take its own end for
// the upstream failing.
func Ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
