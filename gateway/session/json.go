package session

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/leadgate/leadgate/providers"
)

// appendJSON appends what json.Marshal writes for sess, byte for byte
// (FuzzSessionJSON holds it to that): encoding/json finds its way through
// the struct by reflection on every call, and sealing a session is on
// every token landing, where the reflection was a fifth of the request.
// A field added to Session or Attribution must be added here too; the
// fuzz test fails until it is.
func appendJSON(b []byte, s Session) []byte {
	b = append(b, `{"i":`...)
	b = appendString(b, s.ID)
	b = appendOpt(b, `,"t":`, s.Token)
	b = appendOpt(b, `,"f":`, s.Flow)
	b = append(b, `,"a":`...)
	b = appendAttribution(b, s.Attribution)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, s.Issued, 10)
	if s.Counted {
		b = append(b, `,"c":true`...)
	}
	if s.Draft {
		b = append(b, `,"d":true`...)
	}
	b = appendOpt(b, `,"ls":`, s.LastSubmission)
	b = appendOpt(b, `,"la":`, s.LastApp)
	return append(b, '}')
}

func appendAttribution(b []byte, a providers.Attribution) []byte {
	// The first field written opens the object; the others follow a comma.
	start := len(b)
	b = append(b, '{')
	field := func(b []byte, name, v string) []byte {
		if v == "" {
			return b
		}
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, name...)
		return appendString(b, v)
	}
	b = field(b, `"utm_source":`, a.Source)
	b = field(b, `"utm_medium":`, a.Medium)
	b = field(b, `"utm_campaign":`, a.Campaign)
	b = field(b, `"utm_content":`, a.Content)
	b = field(b, `"utm_term":`, a.Term)
	b = field(b, `"referrer":`, a.Referrer)
	if !a.LandedAt.IsZero() {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, `"landed_at":"`...)
		b = a.LandedAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = field(b, `"clicks":`, a.Clicks)
	b = field(b, `"variant":`, a.Variant)
	return append(b, '}')
}

// appendOpt appends key and v unless v is empty (omitempty).
func appendOpt(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(append(b, key...), v)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as encoding/json quotes it by default: HTML's
// <, > and & escaped, control characters as \n, \r, \t, \b, \f or \u00XX,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
