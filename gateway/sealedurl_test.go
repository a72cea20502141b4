package gateway

import (
	"bytes"
	"context"
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

// An accepted application whose buyer's URL no longer opens (the key that
// sealed it was dropped before retention) gives its consumer the error
// page, never a redirect to nowhere or to the sealed text, nor a waiting
// page that never ends; and the admin's list of applications still shows
// it and its neighbours.
func TestAcceptedApplicationWhoseURLIsLost(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "l.db")
	oldKey, newKey := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	openWith := func(keys ...[]byte) *store.Store {
		ring, err := vault.New(keys[0], keys[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(ctx, "sqlite://"+path, ring)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	serve := func(st *store.Store) *httptest.Server {
		h, _ := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "1000-M", func(d *Deps) {
			d.Store, d.Submitter = st, fakeSubmitter{st}
		})
		return httptest.NewServer(h)
	}

	st := openWith(oldKey)
	srv := serve(st)
	b := newBrowser(t, srv)
	applied := b.do("POST", "/apply", with(validES(), hidden(b.get("/").Body)))
	id := strings.TrimPrefix(applied.Header.Get("Location"), "/status/")
	if applied.Code != http.StatusSeeOther || id == "" {
		t.Fatalf("apply: %d to %q", applied.Code, applied.Header.Get("Location"))
	}
	if _, err := st.Claim(ctx, "w", time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if err := st.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusAccepted, RedirectURL: "https://lender.example/welcome"}); err != nil {
		t.Fatal(err)
	}
	if got := b.get("/status/" + id); got.Code != http.StatusSeeOther || got.Header.Get("Location") != "https://lender.example/welcome" {
		t.Fatalf("with its key: %d to %q", got.Code, got.Header.Get("Location"))
	}
	srv.Close()
	st.Close()

	st = openWith(newKey) // the old key dropped
	defer st.Close()
	srv = serve(st)
	defer srv.Close()
	b.srv = srv
	for _, path := range []string{"/status/" + id, "/api/v1/applications/" + id} {
		got := b.get(path)
		if got.Code != http.StatusInternalServerError || got.Header.Get("Location") != "" || strings.Contains(got.Body, "sealed:") {
			t.Errorf("%s without the key: %d to %q, want the error page", path, got.Code, got.Header.Get("Location"))
		}
	}
	recent, err := st.Recent(ctx, 10)
	if err != nil || len(recent) != 1 || !recent[0].RedirectLost || recent[0].Status != providers.StatusAccepted {
		t.Errorf("the list of applications without the key: %+v, %v", recent, err)
	}
}

// An accepted application without a URL (a round resumed from an attempt
// whose URL was lost with its key) is the error page too, never a
// redirect to an empty Location.
func TestAcceptedWithoutURLIsTheErrorPage(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	applied := b.do("POST", "/apply", with(validES(), hidden(b.get("/").Body)))
	id := strings.TrimPrefix(applied.Header.Get("Location"), "/status/")
	ctx := context.Background()
	if _, err := st.Claim(ctx, "w", time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if err := st.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusAccepted}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/status/" + id, "/api/v1/applications/" + id} {
		if got := b.get(path); got.Code != http.StatusInternalServerError || got.Header.Get("Location") != "" {
			t.Errorf("%s: %d to %q, want the error page", path, got.Code, got.Header.Get("Location"))
		}
	}
}
