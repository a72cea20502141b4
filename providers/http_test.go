package providers

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// What every buyer and the CRM read alike from an answer's status, and a
// failed call that never says the URL (which can hold a token).
func TestCallReadsTheSharedStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := map[string]int{"/401": 401, "/403": 403, "/429": 429, "/500": 500, "/503": 503, "/422": 422, "/502": 502, "/504": 504}[r.URL.Path]
		if status == 0 {
			status = 200
		}
		w.WriteHeader(status)
		w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()
	detail := func(b []byte) string { return strconv.Itoa(len(b)) + " bytes read" }
	for _, tc := range []struct {
		path         string
		want         error
		delivered    bool // false: ErrNotDelivered, may be retried
		wantStatus   int
		wantInReason string
	}{
		{"/ok", nil, true, 200, ""},
		{"/422", nil, true, 422, ""}, // a decision some buyers answer with
		{"/401", ErrUnauthorized, true, 0, "status 401"},
		{"/403", ErrUnauthorized, true, 0, "status 403"},
		{"/500", ErrUnavailable, true, 0, "status 500: 64 bytes read"},
		{"/503", ErrUnavailable, false, 0, "status 503"},
		{"/429", ErrUnavailable, false, 0, "status 429"},
		// A gateway's 502 or 504 says it did forward the request, whose
		// origin then failed or took too long: it may have reached the
		// buyer, so it is never posted again.
		{"/502", ErrUnavailable, true, 0, "status 502"},
		{"/504", ErrUnavailable, true, 0, "status 504"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path+"?token=secret0000000001", nil)
		status, body, err := Call(srv.Client(), req, "buyer", 64, detail)
		switch {
		case tc.want == nil && (err != nil || status != tc.wantStatus || len(body) != 64):
			t.Errorf("%s: got %d, %d bytes, %v; want %d and the body cut at 64 bytes", tc.path, status, len(body), err, tc.wantStatus)
		case tc.want != nil && (!errors.Is(err, tc.want) || errors.Is(err, ErrNotDelivered) == tc.delivered ||
			!strings.Contains(err.Error(), tc.wantInReason) || !strings.HasPrefix(err.Error(), "buyer: ")):
			t.Errorf("%s: got %v; want %v (not delivered: %v) naming %q", tc.path, err, tc.want, !tc.delivered, tc.wantInReason)
		}
	}

	// Nobody listening: never delivered, so it may be retried; no URL.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	req, _ := http.NewRequest("GET", "http://"+addr+"/?token=secret0000000001", nil)
	if _, _, err := Call(http.DefaultClient, req, "buyer", 64, nil); !errors.Is(err, ErrNotDelivered) || strings.Contains(err.Error(), "secret") {
		t.Errorf("connection refused: got %v; want ErrNotDelivered without the URL", err)
	}
}
