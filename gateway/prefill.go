package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// prefillAnswer is the body of GET /api/v1/prefill/{token} (SPEC §4).
// Source, Cashcat's own record, goes only to a caller with an API key.
type prefillAnswer struct {
	Lead   map[string]string `json:"lead"`
	Source json.RawMessage   `json:"source,omitempty"`
}

// apiFail answers the API's one error shape.
func (s *server) apiFail(c *gin.Context, status int, code, message string) {
	noStore(c)
	c.AbortWithStatusJSON(status, apiError{Error: apiErrorBody{Code: code, Message: message}})
}

// prefillAccess decides how a prefill call is authorised, and limits it
// accordingly. A valid X-API-Key (server to server) gets the whole answer
// under rate_limits.prefill_api. A keyless call from an allowed Origin (a
// browser running prefill.js) is only what it seems: an Origin header is
// not authentication, anyone can send one, so the action token is the only
// secret there and such a call gets only the fields of the flow's form,
// under its own lower limit (rate_limits.prefill_browser). Origins are
// compared exactly as browsers send them (the config writes them so). CORS
// headers go to an allowed origin, never with credentials: the session
// cookie has nothing to do with this API.
func (s *server) prefillAccess(keyed, browser gin.HandlerFunc) gin.HandlerFunc {
	keys := make([][]byte, len(s.Config.PrefillAPI.Keys))
	for i, k := range s.Config.PrefillAPI.Keys {
		keys[i] = []byte(k)
	}
	origins := s.Config.PrefillAPI.AllowedOrigins
	vary := []string{"Origin"}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h["Vary"] = vary // canonical keys: no canonicalising per request
		origin := c.Request.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(origins, origin)
		if allowed {
			h["Access-Control-Allow-Origin"] = []string{origin}
		}
		if c.Request.Method == http.MethodOptions {
			if !allowed {
				s.apiFail(c, http.StatusForbidden, "origin_not_allowed", "this origin may not call the prefill API")
				return
			}
			c.Header("Access-Control-Allow-Methods", "GET, OPTIONS")
			c.Header("Access-Control-Allow-Headers", "Content-Type")
			c.Header("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		switch key := c.Request.Header.Get("X-API-Key"); {
		case key != "" && validKey(keys, key):
			keyed(c)
		case key == "" && allowed:
			browser(c)
		default:
			s.apiFail(c, http.StatusUnauthorized, "unauthorized", "a valid X-API-Key (or, from a browser, an allowed Origin) is required")
		}
	}
}

// keyedCall says whether a prefill call passed prefillAccess with a key:
// a call that reaches the handler carries either a valid key or none.
func keyedCall(c *gin.Context) bool { return c.Request.Header.Get("X-API-Key") != "" }

// validKey compares key with every configured key in constant time.
func validKey(keys [][]byte, key string) bool {
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare(k, []byte(key))
	}
	return key != "" && ok == 1
}

// checkToken refuses a malformed token before any limit or upstream call.
func (s *server) checkToken() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !cashcat.ValidToken(c.Param("token")) {
			s.apiFail(c, http.StatusBadRequest, "malformed_token", "an action token is 16 letters or digits")
			return
		}
		c.Next()
	}
}

// noStoreHeader is the Cache-Control value of every private answer, shared
// read-only by all of them.
var noStoreHeader = []string{"no-store"}

// noStore marks an answer as never to be stored by a browser or a proxy
// (it carries personal data, a token or a per-session secret). The key is
// written canonical: c.Header would canonicalise it on every request.
func noStore(c *gin.Context) { c.Writer.Header()["Cache-Control"] = noStoreHeader }

// handlePrefill handles "GET /api/v1/prefill/:token": the lead in
// canonical field names, from the same cache as the landing page, so a
// cached token never costs a second Cashcat call.
func (s *server) handlePrefill() gin.HandlerFunc {
	return func(c *gin.Context) {
		keyed := keyedCall(c)
		var flow *Flow
		if name := c.Query("flow"); name != "" {
			if flow = s.flows.ByName(name); flow == nil {
				s.apiFail(c, http.StatusBadRequest, "unknown_flow", "no flow of that name")
				return
			}
		} else if !keyed {
			// A browser gets a form's fields, never the whole lead.
			flow = s.flows.Default()
		}
		token := c.Param("token")
		mode, payer := "browser", clientIP(c)
		if keyed {
			// A lender's own server, with its key: charged to the daily
			// budget, never to a client IP's.
			mode, payer = "key", ""
		}
		key := token + "|" + c.Query("flow") + "|" + mode + "|" + s.Now().UTC().Format("2006-01-02")
		if body, ok := s.answers.Get(key); ok {
			noStore(c)
			c.Data(http.StatusOK, "application/json; charset=utf-8", body.([]byte))
			return
		}
		lead, err := s.fetch(c, token, payer)
		switch {
		case errors.Is(err, providers.ErrNotFound):
			s.apiFail(c, http.StatusNotFound, "unknown_token", "cashcat does not know this action token")
			return
		case errors.Is(err, cashcat.ErrBudgetSpent):
			c.Header("Retry-After", "60")
			s.apiFail(c, http.StatusTooManyRequests, "rate_limited", "too many new action tokens from this address: retry after the Retry-After delay")
			return
		case err != nil:
			// Cashcat down, slow, its breaker open, or refusing us (401,
			// 402: the operator is alerted): the lender can retry later.
			retry := 5
			if errors.Is(err, providers.ErrBreakerOpen) {
				retry = int(max(s.Config.Cashcat.Breaker.OpenFor.Seconds(), 1))
			}
			c.Header("Retry-After", strconv.Itoa(retry))
			s.apiFail(c, http.StatusServiceUnavailable, "cashcat_unavailable", "the lead cannot be fetched right now")
			return
		}
		out := prefillAnswer{}
		if keyed {
			out.Source = lead.Raw
			if len(out.Source) == 0 {
				out.Source = json.RawMessage("null")
			}
		}
		if flow != nil {
			out.Lead = flow.Form.Restrict(lead.Prefill(flow.Currency), s.Now(), flow.Loc)
		} else {
			// Without a flow, amounts are given in the lead's own currency.
			out.Lead = lead.Prefill(lead.Loan.RequestedCurrency)
		}
		body, err := json.Marshal(out)
		if err != nil {
			s.apiFail(c, http.StatusInternalServerError, "internal", "the lead could not be encoded")
			return
		}
		s.remember(key, body)
		noStore(c)
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	}
}

// handlePrefillJS handles "GET /prefill.js": the snippet a lender's own
// page includes. It is public and cacheable; it holds no secret.
func (s *server) handlePrefillJS() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.FileFromFS("prefill.js", http.FS(s.Views.static))
	}
}
