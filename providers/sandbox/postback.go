package sandbox

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/leadgate/leadgate/providers/emulate"
)

// received is one postback the sandbox receiver got.
type received struct {
	At     time.Time `json:"at"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query"`
	Body   string    `json:"body,omitempty"`
	Status int       `json:"status"`
}

// postback answers /sandbox/postback (and any path below it): a traffic
// source's conversion endpoint, recording what it gets, so the README's
// walk-through shows a sale reported back. After POST
// /sandbox/postback/fail?times=N it answers the next N with 500, to show
// the retries.
func (s *Sandbox) postback(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	s.mu.Lock()
	status := http.StatusOK
	if s.postbackFails > 0 {
		s.postbackFails--
		status = http.StatusInternalServerError
	}
	s.postbacks = append(s.postbacks, received{At: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Status: status})
	if len(s.postbacks) > 1000 {
		s.postbacks = s.postbacks[len(s.postbacks)-1000:]
	}
	s.calls["postback"]++
	s.mu.Unlock()
	emulate.WriteJSON(w, status, map[string]bool{"ok": status == http.StatusOK})
}

// postbackFail handles POST /sandbox/postback/fail?times=N.
func (s *Sandbox) postbackFail(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("times"))
	if err != nil || n < 0 || n > 100 {
		http.Error(w, "times: a number from 0 to 100", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.postbackFails = n
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// postbacksJSON handles GET /sandbox/postbacks: what the receiver got,
// oldest first.
func (s *Sandbox) postbacksJSON(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	emulate.WriteJSON(w, http.StatusOK, s.postbacks)
}
