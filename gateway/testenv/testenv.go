// Package testenv is what tests share about their environment: whether they
// run under CI, where a missing service makes a test fail instead of skip,
// and where the test services are.
package testenv

import (
	"os"
	"strings"
)

// CI reports whether the tests run under CI: the CI variable set to
// anything but "", "false" or "0". CI systems spell it "true", "1" or
// "yes"; one that sets CI=1 must not turn a missing service into a skip.
func CI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "false", "0":
		return false
	}
	return true
}

// DefaultRedis is where tests look for Redis unless LEADGATE_TEST_REDIS
// says otherwise.
const DefaultRedis = "127.0.0.1:6379"

// RedisAddr is the host:port of the Redis the tests use:
// LEADGATE_TEST_REDIS, or DefaultRedis.
func RedisAddr() string {
	if addr := os.Getenv("LEADGATE_TEST_REDIS"); addr != "" {
		return addr
	}
	return DefaultRedis
}
