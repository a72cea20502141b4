package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ulule/limiter/v3"
	mgin "github.com/ulule/limiter/v3/drivers/middleware/gin"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// requestID gives every request an id, echoed in X-Request-ID and logged
// with every line about the request. An incoming id is not trusted: a
// client could use it to mix its lines with someone else's.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		c.Set("request_id", id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

func reqID(c *gin.Context) string { return c.GetString("request_id") }

// accessLog writes one line per request: the route pattern, never the URL
// (which can hold an action token), and never the client's address or any
// form value.
func (s *server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		s.Log.Info("request", "request_id", reqID(c), "method", c.Request.Method, "route", route,
			"status", c.Writer.Status(), "duration_ms", float64(took.Microseconds())/1000, "bytes", c.Writer.Size())
		if s.Observe != nil {
			s.Observe(route, c.Writer.Status(), took)
		}
	}
}

// securityHeaders sets the headers of SPEC §10 on every answer. Pages load
// only our own scripts and styles. form-action is left out on purpose:
// browsers apply it to the redirect that follows a POST, and ours goes to
// the buyer's site.
func securityHeaders() gin.HandlerFunc {
	// Keys already canonical and values built once: Header.Set would
	// canonicalise and allocate on every request. The slices are never
	// appended to, so sharing them between answers is safe.
	fixed := map[string][]string{
		"Content-Security-Policy": {"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"},
		"Referrer-Policy":         {"same-origin"},
		"X-Content-Type-Options":  {"nosniff"},
		"X-Frame-Options":         {"DENY"},
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		for k, v := range fixed {
			h[k] = v
		}
		c.Next()
	}
}

// bodyLimit caps request bodies; handlers see errTooLarge past the cap.
func (s *server) bodyLimit() gin.HandlerFunc {
	max := s.Config.Server.MaxBodyBytes
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// parseForm parses a POST body, telling a too-large body apart.
func parseForm(c *gin.Context) error {
	if err := c.Request.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errTooLarge
		}
		return err
	}
	return nil
}

// recovery turns a panic into a whole error page and one log line.
func (s *server) recovery() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		s.Log.Error("panic", "request_id", reqID(c), "route", c.FullPath(), "panic", fmt.Sprintf("%T", err))
		s.errorPage(c, http.StatusInternalServerError, s.defaultLang(), "error.internal")
	})
}

type limiters struct {
	landing, apply, status gin.HandlerFunc
	// prefillIP and prefillToken limit the prefill API per client IP and
	// per action token (a token fetched from many IPs is a scraper too).
	prefillIP, prefillToken gin.HandlerFunc
}

// limiters builds the rate limits of the public routes. The key is Gin's
// ClientIP, which believes X-Forwarded-For only from
// server.trusted_proxies (or the action token, for prefillToken). Pages
// answer a 429 page, the API its JSON error, both with Retry-After.
func (s *server) limiters() (limiters, error) {
	rl := s.Config.RateLimits
	mk := func(key, formatted, prefix string, api bool, keyOf mgin.KeyGetter) (gin.HandlerFunc, error) {
		rate, err := limiter.NewRateFromFormatted(formatted)
		if err != nil {
			return nil, fmt.Errorf("rate_limits.%s: %w", key, err)
		}
		var st limiter.Store
		if s.LimitStore != nil {
			st = s.LimitStore(prefix) // shared by replicas (Redis)
		} else {
			st = memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: prefix, CleanUpInterval: time.Minute})
		}
		l := limiter.New(st, rate)
		opts := []mgin.Option{
			mgin.WithLimitReachedHandler(func(c *gin.Context) {
				// The limiter has just set X-RateLimit-Reset (a Unix time).
				wait := int64(rate.Period.Seconds())
				if reset, err := strconv.ParseInt(c.Writer.Header().Get("X-RateLimit-Reset"), 10, 64); err == nil {
					wait = reset - time.Now().Unix()
				}
				c.Header("Retry-After", strconv.FormatInt(max(1, wait), 10))
				if api {
					s.apiFail(c, http.StatusTooManyRequests, "rate_limited", "too many requests: retry after the Retry-After delay")
					return
				}
				s.errorPage(c, http.StatusTooManyRequests, s.defaultLang(), "error.ratelimited")
			}),
			// The default handler panics. A limiter that cannot answer
			// must not take the landing page down: serve, and say so.
			mgin.WithErrorHandler(func(c *gin.Context, err error) {
				s.Log.Warn("rate limiter unavailable: serving without limit", "request_id", reqID(c), "err", err)
				c.Next()
			}),
		}
		if keyOf != nil {
			opts = append(opts, mgin.WithKeyGetter(keyOf))
		}
		return mgin.NewMiddleware(l, opts...), nil
	}
	var l limiters
	var err error
	if l.landing, err = mk("landing", rl.Landing, "landing", false, nil); err != nil {
		return l, err
	}
	if l.apply, err = mk("apply", rl.Apply, "apply", false, nil); err != nil {
		return l, err
	}
	// The waiting page refreshes itself: it gets its own bucket at the
	// landing rate, so waiting never eats into the landing allowance.
	if l.status, err = mk("landing", rl.Landing, "status", false, nil); err != nil {
		return l, err
	}
	if l.prefillIP, err = mk("prefill_api", rl.PrefillAPI, "prefill-ip", true, nil); err != nil {
		return l, err
	}
	byToken := func(c *gin.Context) string { return c.Param("token") }
	if l.prefillToken, err = mk("prefill_api", rl.PrefillAPI, "prefill-token", true, byToken); err != nil {
		return l, err
	}
	return l, nil
}
