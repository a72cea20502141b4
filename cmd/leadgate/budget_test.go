package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// One address guessing tokens (through landings and keyless prefill
// calls) spends at most its budget of unknown tokens; Cashcat is then no
// longer called from it, and the form still shows, empty. A consumer from
// another address is not affected.
func TestGuessedTokensCannotBurnPaidCalls(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	var tokens []string
	for i := range 30 {
		token := fmt.Sprintf("guess%011d", i)
		tokens = append(tokens, token)
		resp, page := get(t, browser(t), g.URL+"/?action_token="+token)
		if resp.StatusCode != 200 || !strings.Contains(page, `name="csrf_token"`) {
			t.Fatalf("landing %d: got %d, want the form", i, resp.StatusCode)
		}
	}
	for i := range 30 {
		token := fmt.Sprintf("keyless%09d", i)
		tokens = append(tokens, token)
		req, _ := http.NewRequest("GET", g.URL+"/api/v1/prefill/"+token+"?flow=us", nil)
		req.Header.Set("Origin", "http://lender.localhost:9000")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 429 {
			t.Errorf("keyless prefill %d: got %d, want 404 or 429", i, resp.StatusCode)
		}
	}
	counts := sandboxCalls(t, g.URL)
	paid := 0
	for _, token := range tokens {
		paid += counts[token]
	}
	if paid != 10 {
		t.Errorf("60 guessed tokens from one address cost %d paid calls, want 10 (cashcat.unknown_budget_per_ip)", paid)
	}
	_, metrics := get(t, http.DefaultClient, g.AdminURL+"/metrics")
	if !strings.Contains(metrics, `leadgate_cashcat_budget_refused_total{budget="unknown"} 50`) {
		t.Errorf("metrics do not count the 50 refused calls:\n%s", grepLines(metrics, "budget"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
