package session

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Every field of a session, each set, is written as json.Marshal writes
// it: a field added to Session or Attribution and not to appendJSON
// fails here, whatever its type.
func TestSessionJSONEveryField(t *testing.T) {
	var s Session
	fill(t, reflect.ValueOf(&s).Elem())
	if s.Attribution.LandedAt.IsZero() || s.ID == "" || !s.Counted {
		t.Fatalf("not every field was set: %+v", s)
	}
	want, _ := json.Marshal(s)
	if got := appendJSON(nil, s); !bytes.Equal(got, want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// And with every field at its zero value.
	want, _ = json.Marshal(Session{})
	if got := appendJSON(nil, Session{}); !bytes.Equal(got, want) {
		t.Errorf("zero session: got %s, want %s", got, want)
	}
}

// fill sets every field of v to a value that is not its zero.
func fill(t *testing.T, v reflect.Value) {
	switch {
	case v.Type() == reflect.TypeOf(time.Time{}):
		v.Set(reflect.ValueOf(time.Date(2026, 11, 26, 7, 45, 1, 123456789, time.FixedZone("x", 3600))))
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() { // what json.Marshal writes
				fill(t, v.Field(i))
			}
		}
	case v.Kind() == reflect.String:
		v.SetString("v<&>\"\\\x01é\u2028" + v.Type().Name())
	case v.Kind() == reflect.Bool:
		v.SetBool(true)
	case v.Kind() == reflect.Int64 || v.Kind() == reflect.Int:
		v.SetInt(-1234567890123)
	default:
		t.Fatalf("a session field of kind %s: teach fill and appendJSON", v.Kind())
	}
}

// Whatever the strings hold (invalid UTF-8, control characters, HTML,
// separators), the session is written as json.Marshal writes it.
func FuzzSessionJSON(f *testing.F) {
	f.Add("a1b2", "esdemo0000000001", "es", "cashcat.es", "cpc", "spring", "", "", "https://x.example/?a=1&b=<2>", "gclid=Cj0", "b", "sub", "app", int64(1795600000), int64(1795600000123456789), true, false)
	f.Add("\xff\xfe", "\u2028\u2029", "\x00\x1f\x7f", "\"\\", "é漢🙂", "\xed\xa0\x80", "", "", "", "", "", "", "", int64(-1), int64(0), false, true)
	f.Fuzz(func(t *testing.T, id, token, flow, src, medium, campaign, content, term, referrer, clicks, variant, ls, la string,
		issued, landed int64, counted, draft bool) {
		s := Session{ID: id, Token: token, Flow: flow, Issued: issued, Counted: counted, Draft: draft, LastSubmission: ls, LastApp: la,
			Attribution: providers.Attribution{Source: src, Medium: medium, Campaign: campaign, Content: content, Term: term,
				Referrer: referrer, Clicks: clicks, Variant: variant}}
		// Landing times as sessions hold them: UTC, years 1677–2262. A
		// year json.Marshal refuses (past 9999) never reaches a session.
		if landed != 0 {
			s.Attribution.LandedAt = time.Unix(0, landed).UTC()
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Skip(err) // a time json.Marshal refuses: sessions hold now
		}
		if got := appendJSON(nil, s); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}
