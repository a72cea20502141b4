package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// leadgate_cashcat_calls_total counts paid calls only: a call the open
// breaker or a budget stopped never left, and costs nothing.
func TestCashcatCallsCountOnlyCallsMade(t *testing.T) {
	m := New(func() map[string]string { return nil })
	m.CashcatFetched(&providers.Lead{}, nil)
	m.CashcatFetched(nil, fmt.Errorf("cashcat: %w", providers.ErrNotFound))
	m.CashcatFetched(nil, fmt.Errorf("cashcat: %w: status 500", providers.ErrUnavailable))
	m.CashcatFetched(nil, providers.ErrBreakerOpen)
	m.CashcatFetched(nil, fmt.Errorf("%w (ip)", cashcat.ErrBudgetSpent))
	m.BudgetRefused("ip")
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`leadgate_cashcat_calls_total{result="ok"} 1`,
		`leadgate_cashcat_calls_total{result="not_found"} 1`,
		`leadgate_cashcat_calls_total{result="error"} 1`,
		`leadgate_cashcat_budget_refused_total{budget="ip"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
