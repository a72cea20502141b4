// Package session is a consumer's visit: a cookie sealed with AES-GCM
// (no server state, so any replica reads it), the secrets derived from it
// (the CSRF token, the owner of what it creates), and its rotation.
package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
)

// Session is a consumer's visit. It lives in a cookie sealed with
// AES-GCM: the consumer can neither read the action token and the
// attribution in it nor forge them, and any replica can read it without a
// shared session store.
type Session struct {
	ID          string                `json:"i"`
	Token       string                `json:"t,omitempty"` // the exchanged action token
	Flow        string                `json:"f,omitempty"`
	Attribution providers.Attribution `json:"a"`
	Issued      int64                 `json:"n"`
	// Counted: this session's visit is in the funnel (counted once).
	Counted bool `json:"c,omitempty"`
	// Draft: the session saved a draft, so its form is looked up (a
	// landing without one costs no database read).
	Draft bool `json:"d,omitempty"`
	// LastSubmission and LastApp are the form render (submission_id) the
	// session last sent and the application it made: a resubmit of that
	// form from a page rendered before the session rotated replays the
	// application instead of failing the CSRF check.
	LastSubmission string `json:"ls,omitempty"`
	LastApp        string `json:"la,omitempty"`
	// Legacy: behind https, the session came in a cookie named CookieName,
	// not SecureCookieName, which a sibling subdomain or a plain-http
	// answer may have planted. Save keeps that name: only a new id
	// (Rotate, RotateFor) is written under SecureCookieName, or one
	// request (a beacon, a draft) would turn a planted id into a cookie
	// the landing page keeps. Neither field is sealed.
	Legacy bool `json:"-"`
	// expireLegacy: the session left a Legacy id behind; Save expires the
	// plain-named cookie.
	expireLegacy bool
}

const (
	// CookieName is the session cookie's name on plain http (the sandbox),
	// where no browser takes a __Host- cookie.
	CookieName = "leadgate"
	// SecureCookieName is its name behind https. Browsers take a __Host-
	// cookie only from the host itself, over https, with Path=/ and no
	// Domain: a sibling subdomain or a plain-http answer on the way can
	// plant a cookie of any other name in a consumer's browser (session
	// fixation), never this one.
	SecureCookieName = "__Host-" + CookieName
	TTL              = 24 * time.Hour
)

// Sessions seals and opens session cookies and derives per-session secrets.
type Sessions struct {
	aead   cipher.AEAD
	mac    []byte
	secure bool
	now    func() time.Time
	// opened keeps cookies already opened, by their sealed value, for a
	// minute: a consumer reloading or polling sends the same cookie, and
	// opening it (AES-GCM, then JSON) was a tenth of a landing. Only a
	// value that opened once is kept, so nothing unsealed gets in. The key
	// is a SHA-256 of the sealed value, cut to 128 bits (no forgery finds a
	// collision), instead of the value's few hundred bytes.
	opened *bounded.Cache[*Session]
	// macs keeps keyed HMACs: hmac.New hashes the key into its pads
	// every time, a third of a CSRF token; a Reset keeps them.
	macs sync.Pool
}

func New(secret string, secure bool, now func() time.Time) *Sessions {
	// Separate keys for sealing and for MACs, both derived from the secret.
	enc := sha256.Sum256([]byte("leadgate-session-enc:" + secret))
	mac := sha256.Sum256([]byte("leadgate-session-mac:" + secret))
	block, _ := aes.NewCipher(enc[:]) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	return &Sessions{aead: aead, mac: mac[:], secure: secure, now: now, opened: bounded.New[*Session](bounded.Hot, time.Minute)}
}

// Name is the session cookie's name: SecureCookieName behind https.
func (s *Sessions) Name() string {
	if s.secure {
		return SecureCookieName
	}
	return CookieName
}

// Load returns the request's session, or a new one if it has none valid.
//
// Behind https a cookie under the plain name is still taken, marked
// Legacy: a form rendered before the __Host- name, still open in a
// consumer's browser, posts with it and must not fail. Since anyone who
// can plant a cookie can plant that one, the landing page never keeps a
// Legacy session's id (see handleLanding).
func (s *Sessions) Load(r *http.Request) (Session, bool) {
	if c, err := r.Cookie(s.Name()); err == nil {
		if sess, ok := s.open(c.Value); ok {
			return sess, true
		}
	}
	if s.secure {
		if c, err := r.Cookie(CookieName); err == nil {
			if sess, ok := s.open(c.Value); ok {
				sess.Legacy = true
				return sess, true
			}
		}
	}
	return Session{ID: RandomID(), Issued: s.now().Unix()}, false
}

// openedKey is a sealed value's key in opened.
func openedKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return string(sum[:16])
}

func (s *Sessions) open(v string) (Session, bool) {
	key := openedKey(v)
	if sess, ok := s.opened.Get(key); ok {
		return *sess, !s.expired(*sess)
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	n := s.aead.NonceSize()
	if err != nil || len(b) < n {
		return Session{}, false
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(CookieName))
	if err != nil {
		return Session{}, false
	}
	var sess Session
	if json.Unmarshal(plain, &sess) != nil || sess.ID == "" || s.expired(sess) {
		return Session{}, false
	}
	kept := sess
	s.opened.Set(key, &kept)
	return sess, true
}

// Keep makes the cookie r brought open as sess, which it changed, for as
// long as that cookie stays opened: a client that sends it again (a second
// tab of one link, an extension that blocks cookie updates, curl with a
// saved cookie) sees the change, so its visit is not counted twice and
// its page needs no new cookie. Only the same id is kept: a rotated
// session must never open from the old cookie.
func (s *Sessions) Keep(r *http.Request, sess Session) {
	c, err := r.Cookie(s.Name())
	if err != nil {
		return
	}
	key := openedKey(c.Value)
	if old, ok := s.opened.Get(key); ok && old.ID == sess.ID {
		sess.Legacy = false
		s.opened.Set(key, &sess)
	}
}

func (s *Sessions) expired(sess Session) bool {
	return time.Unix(sess.Issued, 0).Add(TTL).Before(s.now())
}

// Save writes the session cookie.
func (s *Sessions) Save(w http.ResponseWriter, sess Session) {
	plain := appendJSON(make([]byte, 0, 256), sess)
	ns := s.aead.NonceSize()
	sealed := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	rand.Read(sealed)
	sealed = s.aead.Seal(sealed, sealed[:ns], plain, []byte(CookieName))
	// What http.SetCookie writes for this cookie (TestCookieAsNetHTTPWritesIt),
	// without its per-call checks of a name and attributes that never
	// change and a value that is base64url already: a tenth of a token
	// landing. Written once, into a buffer of its final size.
	attrs, name := s.attrs(), s.Name()
	if sess.Legacy {
		name = CookieName
	}
	c := make([]byte, 0, len(name)+1+base64.RawURLEncoding.EncodedLen(len(sealed))+len(attrs))
	c = append(append(c, name...), '=')
	c = append(base64.RawURLEncoding.AppendEncode(c, sealed), attrs...)
	h := w.Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], string(c))
	if sess.expireLegacy {
		h["Set-Cookie"] = append(h["Set-Cookie"], expireLegacy)
	}
}

// attrs is the cookie's attributes as http.Cookie writes them.
func (s *Sessions) attrs() string {
	if s.secure {
		return cookieAttrsSecure
	}
	return cookieAttrs
}

var (
	cookieAttrs       = "; Path=/; Max-Age=" + strconv.Itoa(int(TTL.Seconds())) + "; HttpOnly; SameSite=Lax"
	cookieAttrsSecure = "; Path=/; Max-Age=" + strconv.Itoa(int(TTL.Seconds())) + "; HttpOnly; Secure; SameSite=Lax"
	// expireLegacy removes the plain-named cookie once its session is
	// under the __Host- name (Max-Age=0, as http.Cookie writes MaxAge -1).
	expireLegacy = CookieName + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
)

// Plantable says whether a cookie of this server could have been set by
// someone else: on plain http, where the only name is the plain one, a
// sibling subdomain or an answer on the way can set it. Behind https the
// __Host- cookie can come only from this host (a plain-named one is
// Legacy, and given a new id at the landing).
func (s *Sessions) Plantable() bool { return !s.secure }

// Rotate gives a session a new id, and with it a new CSRF secret and a
// new owner of what it creates, keeping its contents: a cookie planted
// before the token exchange (session fixation) then owns nothing the
// consumer does after it.
func (s *Sessions) Rotate(sess Session) Session {
	sess.ID = RandomID()
	return fresh(sess)
}

// Reissue gives a session whose id others may know (a plain-named,
// perhaps planted, cookie) a new id of its own: it keeps what the session
// says of the visit, and none of what the old id owns (its draft, its
// application).
func (s *Sessions) Reissue(sess Session) Session {
	sess = s.Rotate(sess)
	sess.Draft, sess.LastApp, sess.LastSubmission = false, "", ""
	return sess
}

// fresh is sess, under a new id no planter knows: no longer Legacy.
func fresh(sess Session) Session {
	if sess.Legacy {
		sess.Legacy, sess.expireLegacy = false, true
	}
	return sess
}

// RotateFor is the session's id after it stored application appID. It is
// derived, not random, so that concurrent posts of one form (a double
// click) all hand the browser the same new session, the one that owns the
// application; and only the server can derive it.
func (s *Sessions) RotateFor(sess Session, appID string) Session {
	sess.ID = hex.EncodeToString(s.sum("rotate|" + sess.ID + "|" + appID))[:32]
	return fresh(sess)
}

// Owner is what an application stores of the session that created it: a
// MAC of the session id, so the database never holds a usable session.
func (s *Sessions) Owner(id string) string {
	return hex.EncodeToString(s.sum("owner|" + id))[:32]
}

// Digest is a keyed digest of msg (32 hex digits): the same for the same
// msg on every replica, and no clue to msg without the secret.
func (s *Sessions) Digest(msg string) string {
	return hex.EncodeToString(s.sum("digest|" + msg))[:32]
}

// CSRF is the form token of a session: bound to it and unforgeable.
func (s *Sessions) CSRF(id string) string {
	return base64.RawURLEncoding.EncodeToString(s.sum("csrf|" + id))
}

// CheckCSRF says whether token is the session id's CSRF token.
func (s *Sessions) CheckCSRF(id, token string) bool {
	return subtle.ConstantTimeCompare([]byte(s.CSRF(id)), []byte(token)) == 1
}

func (s *Sessions) sum(msg string) []byte {
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.mac)
	}
	m.Reset()
	io.WriteString(m, msg)
	sum := m.Sum(nil)
	s.macs.Put(m)
	return sum
}

// RandomID is 128 random bits, hex: session ids and form submission ids
// (application ids are store.NewID: the time, then 128 random bits).
func RandomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
