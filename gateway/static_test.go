package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadgate/leadgate/providers"
)

// A browser that accepts gzip gets the stylesheet and scripts compressed,
// the same bytes once unpacked; one that does not, or refuses gzip with
// q=0, gets them as they are. Pages are never compressed.
func TestStaticAssetsGzipped(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	get := func(path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept-Encoding", accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct{ path, ctype string }{{"/static/app.css", "text/css"}, {"/static/steps.js", "javascript"}} {
		plain := get(tc.path, "")
		if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" || plain.Body.Len() == 0 {
			t.Fatalf("%s without gzip: %d %q", tc.path, plain.Code, plain.Header().Get("Content-Encoding"))
		}
		if w := get(tc.path, "gzip;q=0, br"); w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), plain.Body.Bytes()) {
			t.Errorf("%s with gzip;q=0: Content-Encoding %q", tc.path, w.Header().Get("Content-Encoding"))
		}
		w := get(tc.path, "gzip, deflate, br")
		if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") ||
			!strings.Contains(w.Header().Get("Content-Type"), tc.ctype) || w.Header().Get("Cache-Control") == "" {
			t.Fatalf("%s with gzip: %d %v", tc.path, w.Code, w.Header())
		}
		if w.Body.Len() >= plain.Body.Len()/2 {
			t.Errorf("%s: %d bytes gzipped of %d", tc.path, w.Body.Len(), plain.Body.Len())
		}
		zr, err := gzip.NewReader(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(zr); !bytes.Equal(b, plain.Body.Bytes()) {
			t.Errorf("%s: the gzipped bytes unpack to something else", tc.path)
		}
	}
	if w := get("/", "gzip"); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("the form page is compressed (%q): its CSRF token sits beside what was typed", w.Header().Get("Content-Encoding"))
	}
}
