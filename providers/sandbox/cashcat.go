package sandbox

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers/emulate"
)

// Token is one row of the Cashcat emulator's table.
type Token struct {
	Token string
	About string
	lead  string // the 200 body; empty for the error tokens
	code  int    // the status of the error tokens
}

// The sandbox's action tokens (README, "Sandbox tokens"). Leads are
// answered in both nestings the document allows: the Spanish one with
// loan, clicks and balance inside "lead", the others beside it.
var Tokens = []Token{
	{Token: "esdemo0000000001", About: "a lead from Spain, in EUR (es flow)", lead: `{"lead":{"ext_id":"ES0SANDBOX1","createdOn":"2026-11-20 10:00:00.000000+00:00","firstName":"Lucía","middleName":"","lastName":"García","email":"lucia.garcia@example.es","birthday":"1990-04-12","gender":"Female","countryResidence":"Spain","hometown":"Ribadesella","monthlyIncome":"From 1.500 to 2.000","monthlyIncomeCurrency":"EUR","socialStatus":"Employed","loan":{"product":"PDL","requestedCurrency":"EUR","requestedAmount":300},"clicks":{"object":"ESCLICK000000001","clicks":1},"balance":{"company":"sandbox lender","amount":250,"currency":"EUR","availableRequests":250}}}`},
	{Token: "usdemo0000000001", About: "a lead from the United States, in USD (us flow)", lead: `{"lead":{"ext_id":"US0SANDBOX1","createdOn":"2026-11-20 10:00:00.000000+00:00","firstName":"John","middleName":"Quincy","lastName":"Smith","email":"john.smith@example.com","birthday":"1985-07-04","gender":"Male","countryResidence":"United States","hometown":"Austin","monthlyIncome":"From 3.000 to 4.000","monthlyIncomeCurrency":"USD","socialStatus":"Employed Full Time"},"loan":{"product":"PDL","requestedCurrency":"USD","requestedAmount":500},"clicks":{"object":"USCLICK000000001","clicks":3},"balance":{"company":"sandbox lender","amount":249,"currency":"USD","availableRequests":249}}`},
	{Token: "p47m6005xhf0f6z6", About: "the document's lead from the Philippines, in PHP", lead: `{"lead":{"ext_id":"4Z0XSQ22Y6","createdOn":"2018-01-30 21:32:26.765345+00:00","firstName":"Hose","middleName":"Jr","lastName":"Gatungay","email":"hose.gatungay@example.ph","birthday":"1981-05-22","gender":"Male","countryResidence":"Philippines","hometown":"Manila","monthlyIncome":"From 20.000 to 40.000","monthlyIncomeCurrency":"PHP","socialStatus":"Employed At A Factory"},"loan":{"product":"PDL","requestedCurrency":"PHP","requestedAmount":8000},"clicks":{"object":"YJ36B46314F3AN00","clicks":2},"balance":{"company":"paydayloans.com","amount":22,"currency":"USD","availableRequests":22}}`},
	{Token: "lowbalance000001", About: "a Spanish lead reporting an almost empty balance (3 requests left)", lead: `{"lead":{"firstName":"Marta","lastName":"Ruiz","email":"marta.ruiz@example.es","birthday":"1992-01-30","gender":"Female","countryResidence":"Spain","hometown":"Sevilla","loan":{"requestedCurrency":"EUR","requestedAmount":200},"balance":{"company":"sandbox lender","amount":3,"currency":"EUR","availableRequests":3}}}`},
	{Token: "xss0000000000001", About: "a lead whose name is a script (it must show as text)", lead: `{"lead":{"firstName":"<script>alert(1)</script>","lastName":"\"><img src=x onerror=alert(2)>","email":"xss@example.es","countryResidence":"Spain","loan":{"requestedCurrency":"EUR","requestedAmount":250}}}`},
	{Token: "unauthorized0401", About: "401: our IP is not whitelisted", code: http.StatusUnauthorized},
	{Token: "nofunds000000402", About: "402: the lender's balance is empty", code: http.StatusPaymentRequired},
	{Token: "notfound00000404", About: "404: unknown token (as is any token not listed)", code: http.StatusNotFound},
	{Token: "method0000000405", About: "405: as if we had not used GET", code: http.StatusMethodNotAllowed},
	{Token: "error00000000500", About: "500: Cashcat fails", code: http.StatusInternalServerError},
	{Token: "slow000000000001", About: "answers the Spanish lead after the slow delay (8s): past the client's timeout", code: -1},
}

// The error bodies as the document prints them: with single quotes, which
// is not JSON (the client must not depend on reading them).
var cashcatErrors = map[int]string{
	http.StatusUnauthorized:        `{'error': {'code': 50002, 'message': 'no server IP %s in Actions API whitelist. Please, contact support@cashcat.ph'}}`,
	http.StatusPaymentRequired:     `{'error': {'code': 50004, 'message': 'insufficient funds. Please, top up your balance. For details contact support@cashcat.ph'}}`,
	http.StatusNotFound:            `{'error': {'code': 50003, 'message': 'action not found'}}`,
	http.StatusMethodNotAllowed:    `{'error': {'code': 50001, 'message': 'wrong http method used (%s), accept only GET method'}}`,
	http.StatusInternalServerError: `{'error': {'code': 50000, 'message': 'internal error'}}`,
}

func (s *Sandbox) cashcatAction(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if tokenShape.MatchString(token) {
		s.countToken(token)
	} else {
		s.count(CallsMalformed)
	}
	if r.Method != http.MethodGet {
		cashcatError(w, http.StatusMethodNotAllowed, r.Method)
		return
	}
	for _, t := range Tokens {
		if t.Token != token {
			continue
		}
		switch {
		case t.code == -1:
			if !s.env.Sleep(r) {
				return
			}
			emulate.WriteRaw(w, http.StatusOK, Tokens[0].lead)
		case t.code == http.StatusUnauthorized:
			cashcatError(w, t.code, r.RemoteAddr)
		case t.code == http.StatusMethodNotAllowed:
			cashcatError(w, t.code, "POST")
		case t.code != 0:
			cashcatError(w, t.code)
		default:
			emulate.WriteRaw(w, http.StatusOK, t.lead)
		}
		return
	}
	if generated.MatchString(token) {
		// Load tests need many new tokens: "gen" + 13 letters or digits is
		// a US lead (in 40 ms, as a real API takes time), counted per token.
		time.Sleep(40 * time.Millisecond)
		emulate.WriteRaw(w, http.StatusOK, strings.Replace(Tokens[1].lead, `"ext_id":"US0SANDBOX1"`, `"ext_id":"`+token+`"`, 1))
		return
	}
	cashcatError(w, http.StatusNotFound)
}

var (
	generated  = regexp.MustCompile(`^gen[A-Za-z0-9]{13}$`)
	tokenShape = regexp.MustCompile(`^[A-Za-z0-9]{16}$`)
)

// CallsMalformed counts the calls for a path no token has the shape of
// (the gateway never sends one): counted under their own path, anyone
// could grow the counts without bound.
const CallsMalformed = "(malformed token)"

// maxCounted bounds the keys counted: past it a new key counts under
// CallsOther. The emulator answers whoever reaches the sandbox.
const (
	maxCounted = 100_000
	CallsOther = "(other)"
)

func cashcatError(w http.ResponseWriter, status int, args ...any) {
	body := cashcatErrors[status]
	if len(args) > 0 {
		body = fmt.Sprintf(body, args...)
	}
	emulate.WriteRaw(w, status, body)
}

// count records one call: a Cashcat token, or "buyer:endpoint".
func (s *Sandbox) count(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[key]++
}

// countToken records one call for a Cashcat token: the keys anyone can
// make up, so past maxCounted a new one counts under CallsOther (the
// fixed names, "casheddy:lead/send", always count under their own).
func (s *Sandbox) countToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.calls[token]; !ok && len(s.calls) >= maxCounted {
		token = CallsOther
	}
	s.calls[token]++
}

// calls answers GET /sandbox/calls: every count, for tests and demos
// ("how many paid Cashcat calls did that cost?").
func (s *Sandbox) callsJSON(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	emulate.WriteJSON(w, http.StatusOK, s.calls)
}
