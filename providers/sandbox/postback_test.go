package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The sandbox's postback receiver records what it gets, and can be told
// to fail the next few, to show a postback being retried.
func TestPostbackReceiver(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	if resp, err := http.Post(srv.URL+"/sandbox/postback/fail?times=1", "", nil); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("fail switch: %v %v", resp, err)
	}
	var statuses []int
	for _, q := range []string{"txn=a1&payout=25.00", "txn=a1&payout=25.00"} {
		resp, err := http.Get(srv.URL + "/sandbox/postback?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[0] != 500 || statuses[1] != 200 {
		t.Errorf("got %v, want the first failed, the second taken", statuses)
	}
	resp, err := http.Post(srv.URL+"/sandbox/postback", "application/json", strings.NewReader(`{"txn":"a2"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/sandbox/postbacks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []received
	json.NewDecoder(resp.Body).Decode(&got)
	if len(got) != 3 || got[0].Status != 500 || got[1].Query != "txn=a1&payout=25.00" || got[2].Method != "POST" || got[2].Body != `{"txn":"a2"}` {
		t.Errorf("recorded: %+v", got)
	}
}
