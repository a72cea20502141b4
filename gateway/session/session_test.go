package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A sealed cookie opens to the session that was saved, again and again
// (the second time from the opened-cookie cache); a tampered cookie and a
// cookie past its 24 hours do not open, cached or not.
func TestSessionCookieOpensOnlyWhileValid(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	s := New("test-secret", false, func() time.Time { return now })
	want := Session{ID: "s1", Token: "esdemo0000000001", Flow: "es", Issued: now.Unix(), Counted: true}
	w := httptest.NewRecorder()
	s.Save(w, want)
	cookie := w.Result().Cookies()[0]
	request := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
		return r
	}
	for i := range 2 {
		if got, ok := s.Load(request(cookie.Value)); !ok || got != want {
			t.Fatalf("open %d: got %+v, %v; want %+v", i, got, ok, want)
		}
	}
	tampered := []byte(cookie.Value)
	tampered[len(tampered)/2] ^= 'A' ^ 'B'
	if got, ok := s.Load(request(string(tampered))); ok || got.ID == want.ID {
		t.Errorf("a tampered cookie opened: %+v", got)
	}
	now = now.Add(TTL + time.Second)
	if got, ok := s.Load(request(cookie.Value)); ok || got.ID == want.ID {
		t.Errorf("a cookie past its lifetime opened: %+v", got)
	}
}

// A cookie sent again opens as its session last changed (Keep), never as
// a session of another id: the old cookie of a rotated session still opens
// the old id only.
func TestKeptCookieOpensTheChangeOfItsOwnSessionOnly(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	s := New("test-secret", false, func() time.Time { return now })
	w := httptest.NewRecorder()
	s.Save(w, Session{ID: "s1", Issued: now.Unix()})
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	sess, _ := s.Load(r)
	sess.Counted = true
	s.Keep(r, sess)
	if got, _ := s.Load(r); !got.Counted || got.ID != "s1" {
		t.Errorf("the cookie sent again opened %+v, want s1 counted", got)
	}
	s.Keep(r, s.Rotate(sess))
	if got, _ := s.Load(r); got.ID != "s1" {
		t.Errorf("the old cookie of a rotated session opened id %q, want s1", got.ID)
	}
}

// The cookie header written by hand is what http.SetCookie writes for the
// same cookie, secure or not: HttpOnly, SameSite=Lax, a day's Max-Age,
// named __Host-leadgate behind https (Secure, Path=/, no Domain: what a
// browser demands of that prefix).
func TestCookieAsNetHTTPWritesIt(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := New("test-secret", secure, time.Now)
		w := httptest.NewRecorder()
		s.Save(w, Session{ID: "s1"})
		got := w.Header().Values("Set-Cookie")
		if len(got) != 1 {
			t.Fatalf("secure %v: got %d Set-Cookie headers, want 1", secure, len(got))
		}
		value := w.Result().Cookies()[0].Value
		ref := httptest.NewRecorder()
		name := CookieName
		if secure {
			name = SecureCookieName
		}
		http.SetCookie(ref, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(TTL.Seconds()),
			HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
		if want := ref.Header().Get("Set-Cookie"); got[0] != want {
			t.Errorf("secure %v:\n got %s\nwant %s", secure, got[0], want)
		}
	}
}

// Behind https a session under the plain name (a form rendered before
// the __Host- name) still opens, marked Legacy. Saved under its id it
// keeps the plain name (a planted id never becomes a __Host- cookie);
// under a new id it writes the __Host- cookie and expires the plain one.
// On plain http there is only the plain name.
func TestLegacyCookieOpensAndIsReplaced(t *testing.T) {
	s := New("test-secret", true, time.Now)
	w := httptest.NewRecorder()
	s.Save(w, Session{ID: "s1", Issued: time.Now().Unix()})
	value := w.Result().Cookies()[0].Value
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: value})
	sess, ok := s.Load(r)
	if !ok || sess.ID != "s1" || !sess.Legacy {
		t.Fatalf("the plain-named cookie: got %+v, %v; want s1, Legacy", sess, ok)
	}
	saved := func(sess Session) map[string]int {
		w := httptest.NewRecorder()
		s.Save(w, sess)
		got := map[string]int{}
		for _, c := range w.Result().Cookies() {
			got[c.Name] = c.MaxAge
		}
		return got
	}
	if got := saved(sess); got[CookieName] <= 0 || len(got) != 1 {
		t.Errorf("saving a Legacy session under its id: cookies %v; want only %s, kept", got, CookieName)
	}
	for name, moved := range map[string]Session{"Rotate": s.Rotate(sess), "RotateFor": s.RotateFor(sess, "app1")} {
		if got := saved(moved); got[SecureCookieName] <= 0 || got[CookieName] >= 0 || len(got) != 2 {
			t.Errorf("saving a Legacy session after %s: cookies %v; want %s kept and %s expired", name, got, SecureCookieName, CookieName)
		}
	}
	r.AddCookie(&http.Cookie{Name: SecureCookieName, Value: value})
	if sess, ok := s.Load(r); !ok || sess.Legacy {
		t.Errorf("with both names the __Host- one is not the one read: %+v", sess)
	}
	plain := New("test-secret", false, time.Now)
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: SecureCookieName, Value: value})
	if sess, ok := plain.Load(r); ok || sess.ID == "s1" {
		t.Errorf("on plain http a __Host- cookie opened: %+v", sess)
	}
}
