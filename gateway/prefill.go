package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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

// PrefillAPISource is the funnel's source of the paid calls the prefill
// API caused.
const PrefillAPISource = "(prefill API)"

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
func prefillAccess(apiKeys, origins []string, keyed, browser gin.HandlerFunc, respond *responder) gin.HandlerFunc {
	keys := make([][]byte, len(apiKeys))
	for i, k := range apiKeys {
		keys[i] = []byte(k)
	}
	vary := []string{"Origin"}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		origin := c.Request.Header.Get("Origin")
		if origin != "" {
			// Only a request with an Origin can get an answer that
			// depends on it; without one, the answer is no-store (as
			// every prefill answer is), which no cache keeps whatever
			// it varies on.
			h["Vary"] = vary // canonical keys: no canonicalising per request
		}
		allowed := origin != "" && slices.Contains(origins, origin)
		if allowed {
			h["Access-Control-Allow-Origin"] = []string{origin}
		}
		if c.Request.Method == http.MethodOptions {
			if !allowed {
				respond.fail(c, "", errOriginRefused)
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
			respond.fail(c, "", errUnauthorized)
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
func checkToken(respond *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !cashcat.ValidToken(c.Param("token")) {
			respond.fail(c, "", errMalformedToken)
			return
		}
		c.Next()
	}
}

// handlePrefill handles "GET /api/v1/prefill/:token": the lead in
// canonical field names, from the same cache as the landing page, so a
// cached token never costs a second Cashcat call.
func handlePrefill(flows *Flows, leads *leads, respond *responder, funnel VisitCounter, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		keyed := keyedCall(c)
		var flow *Flow
		flowName := queryValue(c, "flow")
		if flowName != "" {
			if flow = flows.ByName(flowName); flow == nil {
				respond.fail(c, "", errUnknownFlow)
				return
			}
		} else if !keyed {
			// A browser gets a form's fields, never the whole lead.
			flow = flows.Default()
		}
		token := c.Param("token")
		// A lender's own server, with its key: charged to the daily
		// budget, never to a client IP's.
		mode, payer := "key", ""
		if !keyed {
			mode, payer = "browser", clientIP(c.ClientIP())
		}
		key := token + "|" + flowName + "|" + mode + "|" + day(now())
		body, ok := leads.answer(key)
		if !ok {
			var spend cashcat.Spend
			lead, err := leads.fetch(cashcat.WithSpend(c.Request.Context(), &spend), token, payer)
			spentOn := flows.Default()
			if flow != nil {
				spentOn = flow
			}
			// A lender's call has no visit: its cost is its own line.
			paid(funnel, spentOn.Name, providers.Attribution{Source: PrefillAPISource}, spend.Calls())
			if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, providers.ErrUnavailable) {
				// The lookup's time spent (providers.Ended reads a passed
				// deadline as ended a moment before the context's timer
				// says so): Cashcat was too slow, as a timeout says.
				err = fmt.Errorf("%w: %w", providers.ErrUnavailable, err)
			}
			if err != nil {
				respond.fail(c, "", err)
				return
			}
			answer, err := encodePrefill(lead, flow, keyed, now())
			if err != nil {
				respond.fail(c, "", err)
				return
			}
			leads.remember(key, answer)
			body = answer
		}
		body.(*prefillBody).write(c.Writer)
	}
}

// queryValue is c.Query(name) without parsing the whole query into a map
// (the prefill API's one parameter was a tenth of its handler): a short
// query with no escape, no "+" and no ";" reads the same split by hand as
// net/url reads it. Any other goes to net/url (which, among others, reads
// nothing of a query past 10,000 parameters).
func queryValue(c *gin.Context, name string) string {
	raw := c.Request.URL.RawQuery
	if len(raw) > 1024 || strings.ContainsAny(raw, "%+;") {
		return c.Query(name)
	}
	for pair := range strings.SplitSeq(raw, "&") {
		if k, v, _ := strings.Cut(pair, "="); k == name {
			return v
		}
	}
	return ""
}

// prefillBody is a prefill answer encoded once, kept as bytes with its
// headers built: a cached answer is four writes into the connection's
// buffer. The source is the lead's own raw record (not a copy: the lead
// is cached already, and the record is most of an answer's bytes), so an
// answer costs its lead's part alone.
type prefillBody struct {
	lead   []byte   // {"lead":{...}
	source []byte   // the raw record, or nil for a call without a key
	length []string // Content-Length, or nil for net/http to write
}

// netHTTPBuffer is how much of an answer net/http holds before sending
// its headers (bufferBeforeChunkingSize): an answer that fits is sent
// whole at the handler's end, with a Content-Length net/http writes
// itself, on its fast path and outside the header map.
const netHTTPBuffer = 2048

var (
	jsonType   = []string{"application/json; charset=utf-8"}
	sourceKey  = []byte(`,"source":`)
	closeBrace = []byte(`}`)
	nullRecord = []byte(`null`)
)

// encodePrefill encodes lead's answer, in the bytes json.Marshal gives a
// prefillAnswer (HTML characters escaped, as everywhere in our JSON).
func encodePrefill(lead *providers.Lead, flow *Flow, keyed bool, now time.Time) (*prefillBody, error) {
	var fields map[string]string
	if flow != nil {
		fields = flow.Form.Restrict(lead.Prefill(flow.Currency), now, flow.Loc)
	} else {
		// Without a flow, amounts are given in the lead's own currency.
		fields = lead.Prefill(lead.Loan.RequestedCurrency)
	}
	head, err := json.Marshal(prefillAnswer{Lead: fields})
	if err != nil {
		return nil, fmt.Errorf("encoding a prefill answer: %w", err)
	}
	b := &prefillBody{lead: head[:len(head)-1]} // without its closing brace
	if keyed {
		b.source = nullRecord
		if len(lead.Raw) > 0 {
			escaped, err := json.Marshal(lead.Raw)
			if err != nil {
				return nil, fmt.Errorf("encoding a prefill answer: %w", err)
			}
			b.source = lead.Raw
			if !bytes.Equal(escaped, lead.Raw) {
				b.source = escaped // a record holding <, > or &: its escaped copy
			}
		}
	}
	n := len(b.lead) + len(closeBrace)
	if b.source != nil {
		n += len(sourceKey) + len(b.source)
	}
	if n > netHTTPBuffer {
		// Past the buffer net/http would send it chunked.
		b.length = []string{strconv.Itoa(n)}
	}
	return b, nil
}

// write sends the answer, not to be stored by any cache (it holds
// personal data).
func (b *prefillBody) write(w gin.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = jsonType
	if b.length != nil {
		h["Content-Length"] = b.length
	}
	h["Cache-Control"] = noStoreHeader
	w.WriteHeader(http.StatusOK)
	w.Write(b.lead)
	if b.source != nil {
		w.Write(sourceKey)
		w.Write(b.source)
	}
	w.Write(closeBrace)
}

// handlePrefillJS handles "GET /prefill.js": the snippet a lender's own
// page includes. It is public and cacheable; it holds no secret.
func handlePrefillJS(static fs.FS) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		http.ServeFileFS(idOnError{c.Writer, c}, c.Request, static, "prefill.js")
	}
}
