package gateway

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
	"github.com/ulule/limiter/v3"
)

// requestIDHeader is X-Request-ID in Go's canonical form, so that the
// header map is written without canonicalising the key on each request.
const requestIDHeader = "X-Request-Id"

// reqID is the request's id, echoed in X-Request-ID and logged with every
// line about the request, made the first time something asks for it: the
// access log for an answer it will log, the responder for every error,
// any line logged while answering. An answer nothing is logged about (a
// success the sampled access log skips) carries none: its id would name
// no line, and it was a tenth of the headers of the hottest answers,
// which pushed their header map past the size Go keeps in one group. An
// incoming id is not trusted: a client could use it to mix its lines with
// someone else's.
//
// The id only has to be unique and unguessable enough not to collide, so
// it comes from the runtime's per-thread ChaCha8 source rather than
// crypto/rand (a system call per request on most kernels). It lives in the
// response header alone: gin's c.Set would make a map per request.
func reqID(c *gin.Context) string {
	h := c.Writer.Header()
	if v := h[requestIDHeader]; len(v) > 0 {
		return v[0]
	}
	var n [8]byte
	var b [16]byte
	binary.LittleEndian.PutUint64(n[:], rand.Uint64())
	hex.Encode(b[:], n[:])
	id := string(b[:])
	h[requestIDHeader] = []string{id}
	return id
}

// requestRef is a request's id for a log line that may never be written:
// slog asks for it (and reqID makes it) only when the line is. Only for
// lines logged while the request is answered, on its goroutine, through
// a handler that formats at once (ours): gin reuses the context after.
type requestRef struct{ c *gin.Context }

func (r requestRef) LogValue() slog.Value { return slog.StringValue(reqID(r.c)) }

// idOnError is c's writer for a handler that writes without gin
// (net/http's file server, the sandbox's emulators): an error it answers
// carries the id of its access-log line, as every error does.
type idOnError struct {
	gin.ResponseWriter
	c *gin.Context
}

func (w idOnError) WriteHeader(code int) {
	if code >= 400 {
		reqID(w.c)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach gin's writer (deadlines, full
// duplex) through the wrapper.
func (w idOnError) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one line per request: the route pattern, never the URL
// (which can hold an action token), and never the client's address or any
// form value. observe, when set, is told every answered request (metrics).
//
// With sample N > 1, one answer in N below 400 (and under a second) is
// logged, with "sampled": N, and every error and slow answer is: at tens
// of thousands of requests a second, formatting a line for each success
// is a tenth of the server's work for lines nobody reads, while the
// metrics count every request exactly. Sampling rather than buffering:
// a buffer still formats every line on the same core, and loses its
// content in a crash, when lines matter most.
func accessLog(log *slog.Logger, listener string, sample int, observe func(route string, status int, d time.Duration)) gin.HandlerFunc {
	var seen atomic.Uint64
	return func(c *gin.Context) {
		start := time.Now()
		// Which answers are sampled is decided before they are written, so
		// that a sampled answer carries the id of its line.
		sampled := sample <= 1 || seen.Add(1)%uint64(sample) == 1
		if sampled {
			reqID(c)
		}
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		status := c.Writer.Status()
		logged := sampled || status >= 400 || took >= time.Second
		// LogAttrs with typed attributes: no interface boxing per field.
		if logged && log.Enabled(c, slog.LevelInfo) {
			attrs := []slog.Attr{slog.String("listener", listener), slog.String("request_id", reqID(c)),
				slog.String("method", c.Request.Method), slog.String("route", route), slog.Int("status", status),
				slog.Float64("duration_ms", float64(took.Microseconds())/1000), slog.Int("bytes", c.Writer.Size())}
			if sample > 1 && status < 400 && took < time.Second {
				attrs = append(attrs, slog.Int("sampled", sample))
			}
			log.LogAttrs(c, slog.LevelInfo, "request", attrs...)
		}
		if observe != nil {
			observe(route, status, took)
		}
	}
}

// securityHeaders sets the headers of SPEC §10 on every answer. Pages load
// only our own scripts and styles. form-action is left out on purpose:
// browsers apply it to the redirect that follows a POST, and ours goes to
// the buyer's site.
//
// An API answer (a path under /api/) is JSON, never a document: it gets
// the policy that loads nothing and may be framed by no one, and no
// X-Frame-Options, whose only use is a document in a frame (and which
// frame-ancestors replaces). Every header is written into the answer and
// sorted on each request, and those of the prefill API went past the
// eight a Go map keeps in one group, which made two more maps a call.
func securityHeaders() gin.HandlerFunc {
	// Keys already canonical and values built once: Header.Set would
	// canonicalise and allocate on every request. The slices are never
	// appended to, so sharing them between answers is safe.
	var (
		pageCSP    = []string{"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"}
		apiCSP     = []string{"default-src 'none'; frame-ancestors 'none'"}
		sameOrigin = []string{"same-origin"}
		noReferrer = []string{"no-referrer"}
		noSniff    = []string{"nosniff"}
		deny       = []string{"DENY"}
	)
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h["X-Content-Type-Options"] = noSniff
		if strings.HasPrefix(c.Request.URL.Path, "/api/") {
			h["Content-Security-Policy"] = apiCSP
		} else {
			h["Content-Security-Policy"] = pageCSP
			h["X-Frame-Options"] = deny
		}
		h["Referrer-Policy"] = sameOrigin
		if namesToken(c.Request.URL.RawQuery) {
			// Whatever the answer (the exchange's 303, a 429 past the
			// landing limit, an error page), its URL holds a token that
			// no Referer may carry.
			h["Referrer-Policy"] = noReferrer
		}
		c.Next()
	}
}

// namesToken says whether a raw query has an action_token parameter: as
// written, percent-encoded (action%5Ftoken, which net/url decodes to the
// same name), or in a pair net/url drops for holding a ";" (which still
// leaves the token in the address bar). A value that merely contains the
// words is not one.
func namesToken(raw string) bool {
	if !strings.Contains(raw, "token") && !strings.Contains(raw, "%") {
		return false // the hot path: one scan of a short query
	}
	for pair := range strings.SplitSeq(raw, "&") {
		for part := range strings.SplitSeq(pair, ";") {
			name, _, _ := strings.Cut(part, "=")
			if n, err := url.QueryUnescape(name); err == nil && n == "action_token" {
				return true
			}
		}
	}
	return false
}

// bodyLimit caps request bodies at max bytes; handlers see errTooLarge
// past the cap.
func bodyLimit(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		// A GET's body is http.NoBody: nothing to cap, and no reader to
		// allocate on the hottest routes.
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// parseForm parses a POST body, telling a too-large body apart.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errTooLarge
		}
		return err
	}
	return nil
}

// recovery turns a panic into a whole error page (or API error) and one
// log line naming the panic's type, never its value.
func recovery(respond *responder) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		respond.fail(c, "", fmt.Errorf("panic: %T", err))
	})
}

type limiters struct {
	landing, apply, status gin.HandlerFunc
	// draft limits the form's draft saves and pagehide beacons.
	draft gin.HandlerFunc
	// prefillIP and prefillToken limit the prefill API per client IP and
	// per action token (a token fetched from many IPs is a scraper too);
	// prefillBrowser limits keyless calls from an allowed origin per IP.
	prefillIP, prefillToken, prefillBrowser gin.HandlerFunc
}

// newLimiters builds the rate limits of the public routes, their stores
// made by shared (Redis) when set, else in memory. The key is Gin's
// ClientIP, which believes X-Forwarded-For only from
// server.trusted_proxies, or its IPv6 /64 (providers.ClientNet); the
// action token, for prefillToken.
func newLimiters(rl config.RateLimits, shared func(prefix string) limiter.Store, respond *responder, log *slog.Logger) (limiters, error) {
	mk := func(key, formatted, prefix string, keyOf func(*gin.Context) string) (gin.HandlerFunc, error) {
		rate, err := limiter.NewRateFromFormatted(formatted)
		if err != nil {
			return nil, fmt.Errorf("rate_limits.%s: %w", key, err)
		}
		var st limiter.Store
		if shared != nil {
			st = shared(prefix)
		} else {
			st = bounded.NewLimitStore(bounded.MaxCounters)
		}
		if keyOf == nil {
			keyOf = func(c *gin.Context) string { return providers.ClientNet(c.ClientIP()) }
		}
		return limit(limiter.New(st, rate), keyOf, respond, log), nil
	}
	var l limiters
	var err error
	if l.landing, err = mk("landing", rl.Landing, "landing", nil); err != nil {
		return l, err
	}
	if l.apply, err = mk("apply", rl.Apply, "apply", nil); err != nil {
		return l, err
	}
	// The waiting page refreshes itself: it gets its own bucket at the
	// landing rate, so waiting never eats into the landing allowance.
	if l.status, err = mk("landing", rl.Landing, "status", nil); err != nil {
		return l, err
	}
	if l.draft, err = mk("draft", rl.Draft, "draft", nil); err != nil {
		return l, err
	}
	if l.prefillIP, err = mk("prefill_api", rl.PrefillAPI, "prefill-ip", nil); err != nil {
		return l, err
	}
	if l.prefillBrowser, err = mk("prefill_browser", rl.PrefillBrowser, "prefill-browser", nil); err != nil {
		return l, err
	}
	byToken := func(c *gin.Context) string { return c.Param("token") }
	if l.prefillToken, err = mk("prefill_api", rl.PrefillAPI, "prefill-token", byToken); err != nil {
		return l, err
	}
	return l, nil
}

// limit is ulule/limiter's gin middleware, minus its per-request costs on
// the hottest routes: the headers are written under their canonical keys
// (c.Header canonicalises and allocates each one), and Retry-After comes
// from the limiter's answer instead of being parsed back out of a header.
// Past the limit the responder answers: a page, or the API's error on an
// API path.
func limit(l *limiter.Limiter, keyOf func(*gin.Context) string, respond *responder, log *slog.Logger) gin.HandlerFunc {
	limit := []string{strconv.FormatInt(l.Rate.Limit, 10)}
	remaining := newCountHeaders(l.Rate.Limit)
	var reset lastHeader
	return func(c *gin.Context) {
		lc, err := l.Get(c, keyOf(c))
		if err != nil {
			// A limiter that cannot answer (Redis gone) must not take the
			// page down: serve, and say so.
			log.Warn("rate limiter unavailable: serving without limit", "request_id", reqID(c), "err", err)
			c.Next()
			return
		}
		// The X-RateLimit headers are for the API's callers, a lender's
		// server pacing itself; a browser does nothing with them, and on
		// a page they were three of its headers, which pushed its header
		// map past the size Go keeps in one group. A page past its limit
		// still says when to come back (Retry-After). By the route's
		// pattern, not the request's path: it is what the router matched.
		if strings.HasPrefix(c.FullPath(), "/api/") {
			h := c.Writer.Header()
			h["X-Ratelimit-Limit"] = limit
			h["X-Ratelimit-Remaining"] = remaining.of(lc.Remaining)
			h["X-Ratelimit-Reset"] = reset.of(lc.Reset)
		}
		if !lc.Reached {
			c.Next()
			return
		}
		respond.fail(c, "", rateLimited(int(lc.Reset-time.Now().Unix()), "too many requests: retry after the Retry-After delay"))
	}
}

// countHeaders are a limit's "remaining" header values, formatted once:
// the same few numbers were formatted and allocated on every request.
// Header values are never written to after they are set, so one slice
// serves every response.
type countHeaders [][]string

// newCountHeaders formats 0..limit when the limit is small enough to keep
// (a limit of a hundred million per second formats on demand).
func newCountHeaders(limit int64) countHeaders {
	if limit < 0 || limit > 10_000 {
		return nil
	}
	h := make(countHeaders, limit+1)
	for i := range h {
		h[i] = []string{strconv.Itoa(i)}
	}
	return h
}

func (h countHeaders) of(n int64) []string {
	if n >= 0 && n < int64(len(h)) {
		return h[n]
	}
	return []string{strconv.FormatInt(n, 10)}
}

// lastHeader keeps the last value formatted: a window's reset time is the
// same second for every request in it from one client, and the hottest
// callers (a lender's server, a reloading page) are one client.
type lastHeader struct{ p atomic.Pointer[formatted] }

type formatted struct {
	n int64
	v []string
}

func (l *lastHeader) of(n int64) []string {
	if f := l.p.Load(); f != nil && f.n == n {
		return f.v
	}
	f := &formatted{n, []string{strconv.FormatInt(n, 10)}}
	l.p.Store(f)
	return f.v
}
