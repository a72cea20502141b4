package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Exchange is one HTTP exchange with a buyer as the attempt's audit record
// keeps it (SPEC §6: "the request and response with PII masked"): what
// support reads to answer "why was this lead not sold?" without seeing
// whom it was about.
type Exchange struct {
	// Request is the method, the path (never the query, which can carry
	// a key) and the masked body: "POST /v1/lead/send\n\n{...}".
	Request string `json:"request,omitempty"`
	// Status is the answer's HTTP status; 0 when none came back.
	Status int `json:"status,omitempty"`
	// Response is the masked body of the answer.
	Response string `json:"response,omitempty"`
}

// Audit says which values of a buyer's wire formats (its request and its
// answer, by key: a JSON member, a form field, an XML element) an audit
// record keeps. Every value not named is masked, so a field added to a
// wire format later is hidden until someone decides it is not personal.
type Audit struct {
	shown, words map[string]bool
}

// NewAudit is the Audit of a buyer's formats. shown are the keys whose
// values are never the consumer's own: amounts, codes, choices, flags,
// our ids, the buyer's status words. words are the buyer's free text
// (a message, a comment, a reason), kept once ScrubReason has taken out
// what may be the consumer's (the rules of an attempt's reason).
func NewAudit(shown, words []string) *Audit {
	set := func(keys []string) map[string]bool {
		m := make(map[string]bool, len(keys))
		for _, k := range keys {
			m[k] = true
		}
		return m
	}
	return &Audit{shown: set(shown), words: set(words)}
}

// exchangeMax bounds each masked body an audit record keeps: a buyer's
// answer can be a whole HTML error page.
const exchangeMax = 16 << 10

// masked is what stands for a hidden value: the same mark ScrubReason
// leaves, so support learns one sign.
const masked = scrubbed

// Mask is the exchange r recorded, masked: personal values hidden,
// the buyer's words scrubbed of a's data. A nil Audit hides every value.
func (m *Audit) Mask(r *Recording, a *Application) Exchange {
	if m == nil {
		m = &Audit{}
	}
	var x Exchange
	if r.method == "" && len(r.response) == 0 {
		return x // nothing was sent: the buyer failed before its call
	}
	k := knownOf(a)
	if r.method != "" {
		x.Request = r.method + " " + r.path
		if len(r.request) > 0 {
			x.Request += "\n\n" + m.body(r.request, r.requestType, k, false)
		}
	}
	x.Status = r.status
	if len(r.response) > 0 {
		x.Response = m.body(r.response, r.responseType, k, true)
	}
	return x
}

// body masks one body by what it is: JSON, a urlencoded form or XML, by
// its content type or, for an answer that misnames itself, its first
// character. Anything else (an HTML error page, plain text) is free text.
func (m *Audit) body(b []byte, contentType string, k *known, answer bool) string {
	// A byte that is not UTF-8 would split a value from its match.
	t := bytes.ToValidUTF8(bytes.TrimSpace(b), nil)
	var out string
	var err error
	switch {
	case len(t) > 0 && (t[0] == '{' || t[0] == '['):
		out, err = m.maskJSON(t, k, answer)
	case strings.HasPrefix(contentType, "application/x-www-form-urlencoded") && looksForm(t):
		out = m.maskForm(string(t), k, answer)
	case len(t) > 0 && t[0] == '<' && !looksHTML(t):
		out, err = m.maskXML(t, k, answer)
	case looksHTML(t):
		// A proxy's error page: its text, tags out and entities read,
		// so that "Z&eacute;b<b>ulon</b>" is the name it spells.
		t = []byte(html.UnescapeString(anyTag.ReplaceAllString(string(t), "")))
		err = errNotStructured
	default:
		err = errNotStructured
	}
	if err != nil {
		// Unreadable as what it claims: kept as the buyer's free text.
		out = k.reason(string(t))
	}
	return Cut(out, exchangeMax)
}

var (
	anyTag  = regexp.MustCompile(`<[^>]*>`)
	formKey = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]+$`)
)

// looksForm says b is a urlencoded form, field names and all: an answer
// that only says so is free text.
func looksForm(b []byte) bool {
	for pair := range strings.SplitSeq(string(b), "&") {
		k, v, _ := strings.Cut(pair, "=")
		if _, err := url.QueryUnescape(v); err != nil || !formKey.MatchString(k) {
			return false
		}
	}
	return true
}

var errNotStructured = errors.New("not structured")

func looksHTML(b []byte) bool {
	head := strings.ToLower(string(b[:min(len(b), 64)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

// value is what the record keeps of the value v under key. A value
// named shown in an answer is the buyer's (a status, its lead id), yet
// the consumer's own values are taken out of it: a buyer may echo them
// anywhere.
func (m *Audit) value(key, v string, k *known, answer bool) string {
	switch {
	case v == "":
		return "" // that a value was sent empty is often the answer
	case m.shown[key] && answer:
		// The buyer's status words and ids: its long numbers stay (a lead
		// id finds the lead at the buyer), not an address nor a value
		// of the consumer's.
		return anyEmail.ReplaceAllLiteralString(k.values(v), scrubbed)
	case m.shown[key]:
		return v
	case m.words[key]:
		return k.reason(v)
	}
	return masked
}

// maskJSON rewrites a JSON document token by token, so that its members
// keep the order the buyer's document gives them. A value inside an
// array is judged by the array's key.
func (m *Audit) maskJSON(b []byte, k *known, answer bool) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object  bool
		key     string // the member being read, or the array's key
		wantKey bool
		n       int
	}
	var out strings.Builder
	stack := []frame{{}}
	for {
		t, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		top := &stack[len(stack)-1]
		if d, ok := t.(json.Delim); ok && (d == '}' || d == ']') {
			out.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			top = &stack[len(stack)-1]
			top.n++
			top.wantKey = top.object
			continue
		}
		if top.n > 0 && (!top.object || top.wantKey) {
			out.WriteByte(',')
		}
		if top.object && top.wantKey {
			key, _ := t.(string) // a Decoder gives an object's keys as strings
			top.key, top.wantKey = key, false
			if answer {
				key = k.scrub(key) // a key is the buyer's text too
			}
			writeJSON(&out, key)
			out.WriteByte(':')
			continue
		}
		switch v := t.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{', key: top.key, wantKey: v == '{'})
			continue
		case string:
			writeJSON(&out, m.value(top.key, v, k, answer))
		case json.Number:
			if answer && strings.ContainsAny(v.String(), "eE") {
				// 8.7654321e8 is an SSN no digit search finds.
				writeJSON(&out, masked)
			} else if s := m.value(top.key, v.String(), k, answer); s == v.String() {
				out.WriteString(s)
			} else {
				writeJSON(&out, s)
			}
		default: // true, false, null: a flag, never a person
			writeJSON(&out, v)
		}
		top.n++
		top.wantKey = top.object
	}
	return out.String(), nil
}

func writeJSON(out *strings.Builder, v any) {
	if s, ok := v.(string); ok && (s == masked || plainJSON(s)) {
		out.WriteByte('"') // most values and every key: no escaping to do
		out.WriteString(s)
		out.WriteByte('"')
		return
	}
	b, _ := json.Marshal(v)
	out.Write(b)
}

// plainJSON says s is written in JSON as it is, between quotes:
// printable ASCII, none of the characters json.Marshal escapes.
func plainJSON(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// maskForm rewrites a urlencoded body field by field, one to a line, in
// the order sent.
func (m *Audit) maskForm(s string, k *known, answer bool) string {
	var out strings.Builder
	for pair := range strings.SplitSeq(s, "&") {
		key, v, _ := strings.Cut(pair, "=")
		if unescaped, err := url.QueryUnescape(key); err == nil {
			key = unescaped
		}
		if unescaped, err := url.QueryUnescape(v); err == nil {
			v = unescaped
		}
		if out.Len() > 0 {
			out.WriteByte('\n')
		}
		v = m.value(key, v, k, answer)
		if answer {
			key = k.scrub(key)
		}
		out.WriteString(key + "=" + v)
	}
	return out.String()
}

// maskXML rewrites an XML answer token by token: an element's text is
// judged by the element's name; attributes by theirs; comments go.
func (m *Audit) maskXML(b []byte, k *known, answer bool) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	var out bytes.Buffer
	enc := xml.NewEncoder(&out)
	var names []string
	// An element's text is judged whole: a CDATA section, a comment or
	// an instruction inside it splits it into pieces that would each
	// pass ("Quix<![CDATA[worth]]>").
	var text strings.Builder
	flush := func() error {
		s := strings.TrimSpace(text.String())
		text.Reset()
		if s == "" {
			return nil
		}
		key := "" // text outside any element: masked
		if len(names) > 0 {
			key = names[len(names)-1]
		}
		return enc.EncodeToken(xml.CharData(m.value(key, s, k, answer)))
	}
	for {
		t, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		switch v := t.(type) {
		case xml.CharData:
			text.Write(v)
			continue
		case xml.Comment, xml.Directive:
			continue
		case xml.ProcInst:
			if v.Target != "xml" {
				continue
			}
		}
		if err := flush(); err != nil {
			return "", err
		}
		switch v := t.(type) {
		case xml.StartElement:
			// Buyers' answers use no namespaces; a prefix or an xmlns
			// is text no mark can stand in for: read as free text.
			if v.Name.Space != "" || k.values(v.Name.Local) != v.Name.Local {
				return "", errNotStructured
			}
			for i, at := range v.Attr {
				if at.Name.Space != "" || at.Name.Local == "xmlns" || k.values(at.Name.Local) != at.Name.Local {
					return "", errNotStructured
				}
				v.Attr[i].Value = m.value(at.Name.Local, at.Value, k, answer)
			}
			names = append(names, v.Name.Local)
			t = v
		case xml.EndElement:
			if len(names) > 0 {
				names = names[:len(names)-1]
			}
		}
		if err := enc.EncodeToken(t); err != nil {
			return "", err
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	if err := enc.Flush(); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Recording is what one buyer call sent and got back, as they were: held
// in memory only, for an Audit to mask.
type Recording struct {
	method, path              string
	request, response         []byte
	requestType, responseType string
	status                    int
}

type recordingKey struct{}

// WithRecording returns a context under which Send keeps a copy of the exchange
// in the returned Recording.
func WithRecording(ctx context.Context) (context.Context, *Recording) {
	r := &Recording{}
	return context.WithValue(ctx, recordingKey{}, r), r
}

// recordRequest keeps req's method, path and body if its context asks
// for it; the answer is added by recordResponse.
func recordRequest(req *http.Request) *Recording {
	r, _ := req.Context().Value(recordingKey{}).(*Recording)
	if r == nil {
		return nil
	}
	r.method, r.path, r.requestType = req.Method, req.URL.EscapedPath(), req.Header.Get("Content-Type")
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			r.request, _ = io.ReadAll(io.LimitReader(body, exchangeMax*4))
			body.Close()
		}
	}
	r.status, r.response = 0, nil
	return r
}

func (r *Recording) recordResponse(resp *http.Response, body []byte) {
	if r != nil {
		r.status, r.responseType, r.response = resp.StatusCode, resp.Header.Get("Content-Type"), body
	}
}
