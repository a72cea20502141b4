package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadgate/leadgate/providers/emulate"
)

// CashfinSecret is the client secret the Cashfin emulator accepts.
const CashfinSecret = "cs_sandbox_secret"

// CallsCashfinCreate counts lead creations (the leads stored are listed
// by /sandbox/cashfin/business/lead/list).
const CallsCashfinCreate = "cashfin:lead/create"

type cashfinLead struct {
	ID           string   `json:"_id"`
	Name         string   `json:"name"`
	Email        string   `json:"email,omitempty"`
	Phone        string   `json:"phone,omitempty"`
	Company      string   `json:"company,omitempty"`
	JobTitle     string   `json:"jobtitle,omitempty"`
	Industry     string   `json:"industry,omitempty"`
	Website      string   `json:"website,omitempty"`
	Request      string   `json:"request,omitempty"`
	Budget       *float64 `json:"budget"`
	Country      *string  `json:"country"`
	State        string   `json:"state,omitempty"`
	Address      string   `json:"address,omitempty"`
	Source       string   `json:"source,omitempty"`
	Status       string   `json:"status"`
	SourceOrigin string   `json:"sourceorigin"`
	Active       bool     `json:"active"`
	CreatedAt    string   `json:"createdat"`
	UpdatedAt    string   `json:"updatedat"`
}

var cashfinStatuses = []string{"new", "contacted", "qualified", "converted", "lost"}

func cashfinAuthorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != CashfinSecret {
		emulate.WriteJSON(w, http.StatusUnauthorized, map[string]any{"success": false, "error": "invalid client secret"})
		return false
	}
	return true
}

// cashfinCreate answers like POST /business/lead/create.
func (s *Sandbox) cashfinCreate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		emulate.WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"success": false, "error": "method not allowed"})
		return
	}
	if !cashfinAuthorized(w, r) {
		return
	}
	s.count(CallsCashfinCreate)
	var l cashfinLead
	if !emulate.IsJSON(r) || json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&l) != nil {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"success": false, "error": "invalid request body"})
		return
	}
	if strings.TrimSpace(l.Name) == "" {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"success": false,
			"error": "Key: 'ApiLeadRequest.Name' Error:Field validation for 'Name' failed on the 'required' tag"})
		return
	}
	if l.Status == "" {
		l.Status = "new"
	}
	if !slices.Contains(cashfinStatuses, l.Status) {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]any{"success": false,
			"error": "Key: 'ApiLeadRequest.Status' Error:Field validation for 'Status' failed on the 'oneof' tag"})
		return
	}
	b := make([]byte, 12)
	rand.Read(b)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	l.ID, l.SourceOrigin, l.Active, l.CreatedAt, l.UpdatedAt = hex.EncodeToString(b), "api", true, now, now
	s.mu.Lock()
	s.cashfinLeads = append(s.cashfinLeads, l)
	if over := len(s.cashfinLeads) - maxCashfinLeads; over > 0 {
		// Its secret is public: anyone who reaches the sandbox can post.
		s.cashfinLeads = slices.Delete(s.cashfinLeads, 0, over)
	}
	s.mu.Unlock()
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Lead created successfully", "data": l})
}

// maxCashfinLeads bounds the emulated CRM's leads: past it the oldest go.
var maxCashfinLeads = 10_000

// cashfinList answers like GET /business/lead/list: search (name, email,
// phone, company), status and source filters, page and limit (max 100).
func (s *Sandbox) cashfinList(w http.ResponseWriter, r *http.Request) {
	if !cashfinAuthorized(w, r) {
		return
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, limit = max(page, 1), min(max(limit, 1), 100)
	if q.Get("limit") == "" {
		limit = 10
	}
	search := strings.ToLower(q.Get("search"))
	var found []cashfinLead
	s.mu.Lock()
	for _, l := range s.cashfinLeads {
		hay := strings.ToLower(l.Name + "\n" + l.Email + "\n" + l.Phone + "\n" + l.Company)
		if (search == "" || strings.Contains(hay, search)) &&
			(q.Get("status") == "" || l.Status == q.Get("status")) && (q.Get("source") == "" || l.Source == q.Get("source")) {
			found = append(found, l)
		}
	}
	s.mu.Unlock()
	pages := (len(found) + limit - 1) / limit
	lo, hi := min((page-1)*limit, len(found)), min(page*limit, len(found))
	emulate.WriteJSON(w, http.StatusOK, map[string]any{
		"success":    true,
		"data":       append([]cashfinLead{}, found[lo:hi]...),
		"pagination": map[string]int{"total": len(found), "page": page, "limit": limit, "pages": pages},
	})
}
