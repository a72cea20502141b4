package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
)

// rotationConfig runs with a new encryption key, the old one listed (or
// not) among the old keys, and Casheddy at a buyer that accepts anything.
const rotationConfig = `
server:
  addr: "127.0.0.1:0"
  admin_addr: "127.0.0.1:0"
  public_url: "http://127.0.0.1:8080"
  session_secret: "rotation-test-secret-0123456789abcdef"
admin: { password: test-admin }
storage:
  dsn: "sqlite://%s"
  encryption_key: "%s"
  old_encryption_keys: [%s]
cashcat: { base_url: "http://127.0.0.1:9/cashcat" }
providers:
  casheddy: { base_url: "%s", username: u, password: p }
flows:
  - { name: es, form: es, currency: EUR, buyers: [casheddy], default: true }
sandbox: { enabled: false }
`

// Rotating the encryption key: an application stored under the old key
// and still pending when the gateway restarts with a new one is opened
// with the old key listed under storage.old_encryption_keys, and sent to
// its buyer. Without the old key listed, it cannot be opened.
func TestKeyRotationKeepsPendingApplications(t *testing.T) {
	buyer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success": true, "data": {"redirect_url": "https://lender.example/welcome", "lead_id": "L1"}}`)
	}))
	defer buyer.Close()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name       string
		oldKeys    string
		wantStatus providers.Status
	}{
		{"old key kept", `"` + b64(oldKey) + `"`, providers.StatusAccepted},
		{"old key dropped", "", providers.StatusDeclined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "leadgate.db")
			keys, _ := vault.New(oldKey)
			st, err := store.Open(context.Background(), "sqlite://"+db, keys)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = st.Create(context.Background(), store.New{ID: "app-rotated", SessionHash: "s", IdempotencyKey: "k", Flow: "es", Form: "es",
				Currency: "EUR", Deadline: time.Minute, Submission: providers.Submission{ID: "app-rotated", Flow: "es", Currency: "EUR", IPAddress: "180.190.166.143",
					Application: providers.Application{FirstName: "Lucía", LastName: "García", Email: "lucia@example.es"},
					// Casheddy's document requires both: without them it is skipped.
					Consents: []providers.Consent{{Field: "consent_terms", Given: true}, {Field: "consent_marketing", Given: true}}}})
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			g := start(t, fmt.Sprintf(rotationConfig, db, b64(newKey), tc.oldKeys, buyer.URL))
			var app struct {
				Application struct {
					Status        providers.Status
					Buyer, Reason string
				} `json:"application"`
				Attempts []struct{ Buyer, Outcome, Reason string } `json:"attempts"`
			}
			deadline := time.Now().Add(15 * time.Second)
			for app.Application.Status == "" || app.Application.Status == providers.StatusPending {
				if time.Now().After(deadline) {
					t.Fatalf("never decided: %+v\n%s", app, g.logs.all())
				}
				time.Sleep(50 * time.Millisecond)
				g.logs.mu.Lock()
				admin := g.AdminURL
				g.logs.mu.Unlock()
				req, _ := http.NewRequest("GET", admin+"/admin/api/applications/app-rotated", nil)
				req.SetBasicAuth("admin", "test-admin")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				json.NewDecoder(resp.Body).Decode(&app)
				resp.Body.Close()
			}
			if got := app.Application; got.Status != tc.wantStatus || (tc.wantStatus == providers.StatusAccepted && got.Buyer != "casheddy") ||
				(tc.wantStatus == providers.StatusDeclined && !strings.Contains(got.Reason, "unreadable")) {
				t.Errorf("got %+v (attempts %+v), want %s", got, app.Attempts, tc.wantStatus)
			}
		})
	}
}
