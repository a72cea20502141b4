package providers

import (
	"errors"
	"testing"
)

// A buyer's redirect is followed only if it is an absolute http(s) URL
// with a host (SPEC §3): every other scheme is refused even with a host,
// since the "no host" rule alone stops only javascript:alert(1).
func TestCheckRedirect(t *testing.T) {
	tests := []struct {
		raw   string
		hosts []string
		want  string // "" = refused
	}{
		{"https://lender.example/welcome?id=1", nil, "https://lender.example/welcome?id=1"},
		{"http://lender.example/w", nil, "http://lender.example/w"},
		{"  https://lender.example/w\n", nil, "https://lender.example/w"},
		// A scheme is case-insensitive (RFC 3986 §3.1): accepted, written
		// in lower case.
		{"HTTP://lender.example/w", nil, "http://lender.example/w"},
		{"HtTpS://lender.example/w", nil, "https://lender.example/w"},

		{"ftp://h/x", nil, ""},
		{"javascript://h/%0aalert(1)", nil, ""},
		{"JavaScript://h/%0aalert(1)", nil, ""},
		{"data://h/x", nil, ""},
		{"file://h/etc/passwd", nil, ""},
		{"ws://h/x", nil, ""},
		{"httpx://h/x", nil, ""},
		{"javascript:alert(1)", nil, ""},
		{"data:text/html,<script>alert(1)</script>", nil, ""},
		{"//lender.example/w", nil, ""}, // scheme-relative
		{"/welcome", nil, ""},
		{"https:///welcome", nil, ""},
		{"https://:443/welcome", nil, ""}, // a port is not a host
		{"https://user:pw@lender.example/w", nil, ""},
		{"https://lender.example@evil.example/w", nil, ""},
		{"", nil, ""},
		{"https://lender.exa mple/w", nil, ""},

		{"https://lender.example/w", []string{"lender.example"}, "https://lender.example/w"},
		{"https://LENDER.example:8443/w", []string{"lender.example"}, "https://LENDER.example:8443/w"},
		{"https://evil.example/w", []string{"lender.example"}, ""},
		{"https://lender.example.evil.example/w", []string{"lender.example"}, ""},
		{"ftp://lender.example/w", []string{"lender.example"}, ""},
	}
	for _, tt := range tests {
		got, err := CheckRedirect(tt.raw, tt.hosts)
		switch {
		case tt.want == "" && (err == nil || !errors.Is(err, ErrBadResponse) || got != ""):
			t.Errorf("CheckRedirect(%q, %v) = %q, %v; want refused with ErrBadResponse", tt.raw, tt.hosts, got, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("CheckRedirect(%q, %v) = %q, %v; want %q", tt.raw, tt.hosts, got, err, tt.want)
		}
	}
}
