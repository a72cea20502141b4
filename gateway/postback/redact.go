package postback

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Redact is a postback URL as it may be logged: its scheme, host and
// macros, every literal it holds masked. A traffic source's account token
// is as often in the path (/pb/TOKEN/…), the user or the fragment as in
// a query value, so all of them go: `https://***@track.example/***/{gclid}?txn={application_id}&k=***`.
// Unparseable, it shows nothing of itself.
func Redact(raw string) string {
	swapped, back := swapMacros(raw)
	u, err := url.Parse(swapped)
	if err != nil {
		return "(unparseable)"
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme + ":")
	}
	if u.Host != "" || u.User != nil {
		b.WriteString("//")
		if u.User != nil {
			b.WriteString("***@")
		}
		b.WriteString(u.Host)
	}
	if u.Opaque != "" {
		b.WriteString("***")
	}
	for seg := range strings.SplitSeq(strings.TrimPrefix(u.EscapedPath(), "/"), "/") {
		if u.EscapedPath() == "" {
			break
		}
		b.WriteString("/" + keepMacro(seg))
	}
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + RedactForm(u.RawQuery))
	}
	if u.Fragment != "" {
		b.WriteString("#***")
	}
	return back.Replace(b.String())
}

// RedactForm masks the literal values of form-encoded text (a query, a
// form body), keeping the names and the values that are one macro.
func RedactForm(raw string) string {
	swapped, back := swapMacros(raw)
	parts := strings.Split(swapped, "&")
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=" + keepMacro(v)
		} else if p != "" {
			parts[i] = keepMacro(p)
		}
	}
	return back.Replace(strings.Join(parts, "&"))
}

// RedactJSON masks a JSON body's literal values, in objects and arrays
// alike (strings that are not one macro, numbers), keeping its keys and
// shape.
func RedactJSON(raw string) string {
	swapped, back := swapMacros(raw)
	out := jsonLiteral.ReplaceAllStringFunc(swapped, func(m string) string {
		if strings.HasSuffix(m, ":") || (strings.HasPrefix(m, `"`) && placeholder.MatchString(strings.Trim(m, `"`))) {
			return m // a key, or a macro
		}
		return `"***"`
	})
	return back.Replace(out)
}

// jsonLiteral is a string (with the colon after it when it is a key) or
// a number.
var jsonLiteral = regexp.MustCompile(`"(?:[^"\\]|\\.)*"(?:\s*:)?|-?\d[\d.eE+-]*`)

// keepMacro is s when s is one macro (or empty), else ***.
func keepMacro(s string) string {
	if s == "" || placeholder.MatchString(s) {
		return s
	}
	return "***"
}

// swapMacros replaces each {macro} of s with a placeholder that no URL
// or form parser changes, and returns what puts them back.
func swapMacros(s string) (string, *strings.Replacer) {
	var pairs []string
	n := 0
	s = macro.ReplaceAllStringFunc(s, func(m string) string {
		p := fmt.Sprintf("lgmacro%dz", n)
		n++
		pairs = append(pairs, p, m)
		return p
	})
	return s, strings.NewReplacer(pairs...)
}

// placeholder is a value that is exactly one swapped macro.
var placeholder = regexp.MustCompile(`^lgmacro\d+z$`)
