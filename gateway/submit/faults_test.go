package submit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/lokyata"
)

// Faults injected into a real buyer client over real HTTP: each one falls
// through to the next buyer, loses nothing, and the faulty buyer is posted
// once (none of these prove the lead did not reach it).
func TestFaultInjectionFallsThrough(t *testing.T) {
	faults := map[string]http.HandlerFunc{
		"500": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, `{"decision": "Denied", "comment": "Failure Reason"}`)
		},
		"malformed body": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"decision": "Appro`) },
		"timeout":        func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) },
		"connection reset": func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(interface{ SetLinger(int) error }).SetLinger(0) // RST, not FIN
			conn.Close()
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			var posts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				posts.Add(1)
				fault(w, r)
			}))
			defer srv.Close()
			client, err := lokyata.New(lokyata.Config{BuyerConfig: providers.BuyerConfig{BaseURL: srv.URL}, APIKey: "k"}, &http.Client{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			cb := providers.NewBreaker[providers.Decision]("lokyata", providers.BreakerConfig{Failures: 5, OpenFor: time.Minute}, nil)
			a := Guard(client, cb, 300*time.Millisecond)
			b := &fakeBuyer{name: "b", d: accept("https://b.example/welcome")}
			s := storetest.SQLite(t, store.Open)
			create(t, s, "app-1", time.Minute)
			w := runWith(t, s, nil, a, b)
			app, _ := w.Wait(context.Background(), "app-1", 10*time.Second)
			if app.Status != providers.StatusAccepted || app.Buyer != "b" {
				t.Fatalf("got %s by %q, want accepted by b", app.Status, app.Buyer)
			}
			atts, _ := s.Attempts(context.Background(), "app-1")
			if atts[0].Outcome != providers.Failed || atts[0].Retry || atts[0].Tries != 1 {
				t.Errorf("faulty buyer's attempt: got %+v, want one error, not retried", atts[0])
			}
			if n := posts.Load(); n != 1 {
				t.Errorf("faulty buyer posted %d times, want 1", n)
			}
		})
	}
}
