package providers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// A breaker opens on failures of the upstream only: an unknown token, a
// request of our own making that was refused, or our own cancellation
// say nothing of its health and never open it (STYLE 7), however many.
func TestBreakerCountsOnlyFailures(t *testing.T) {
	for _, tc := range []struct {
		err   error
		opens bool
	}{
		{fmt.Errorf("cashcat: %w", ErrNotFound), false},
		{fmt.Errorf("lokyata: %w: status 400", ErrRejectedRequest), false},
		{fmt.Errorf("astoria: %w", context.Canceled), false},
		{fmt.Errorf("casheddy: %w: status 500", ErrUnavailable), true},
		{fmt.Errorf("casheddy: %w: not json", ErrBadResponse), true},
		{fmt.Errorf("lokyata: %w: timeout", context.DeadlineExceeded), true},
	} {
		cb := NewBreaker[int]("test", BreakerConfig{Failures: 3, OpenFor: time.Minute}, nil)
		calls := 0
		var last error
		for range 10 {
			_, last = Guard(cb, func() (int, error) { calls++; return 0, tc.err })
		}
		if opened := calls < 10; opened != tc.opens {
			t.Errorf("%v: %d calls of 10 went through; want the breaker open: %v", tc.err, calls, tc.opens)
		}
		if tc.opens && (!errors.Is(last, ErrBreakerOpen) || !errors.Is(last, ErrNotDelivered)) {
			t.Errorf("%v: a refused call got %v, want ErrBreakerOpen, which is not delivered", tc.err, last)
		}
	}
}
