package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// DedupeKeys are the keys a consumer is recognised by across applications
// (ssn, national_id, email, mobile_phone: the ones named), normalised and
// hashed with secret (HMAC-SHA256): the same consumer gives the same keys,
// and a key says nothing of its value to whoever reads the store without
// the secret. An empty field gives no key.
func DedupeKeys(app Application, names []string, secret []byte) []string {
	var keys []string
	for _, name := range names {
		v := dedupeValue(app, name)
		if v == "" {
			continue
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(name + ":" + v))
		keys = append(keys, hex.EncodeToString(m.Sum(nil))[:40])
	}
	return keys
}

// dedupeValue is a field as one consumer writes it every time: digits only
// for numbers, lower case for an email, upper case without separators for
// an identity document.
func dedupeValue(app Application, name string) string {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) {
				return r
			}
			return -1
		}, s)
	}
	switch name {
	case "ssn":
		return digits(app.SSN)
	case "mobile_phone":
		return digits(app.MobilePhone)
	case "email":
		return strings.ToLower(strings.TrimSpace(app.Email))
	case "national_id":
		return strings.ToUpper(strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, app.NationalID))
	}
	return ""
}
