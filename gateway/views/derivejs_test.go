package views

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
)

// derive.js's ZIP table gives every 5-digit ZIP code the state the
// server gives it (providers.StateOfZIP): the page and the server never
// disagree on a derived state.
func TestDeriveJSZIPTable(t *testing.T) {
	b, err := fs.ReadFile(templates.FS, "static/derive.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	m := regexp.MustCompile(`var ZIPS = "([A-Z-]+)";`).FindStringSubmatch(src)
	if m == nil || len(m[1]) != 2000 {
		t.Fatal("derive.js: no ZIPS table of 1,000 prefixes")
	}
	except := map[string]string{}
	for _, e := range regexp.MustCompile(`"(\d{5})": "([A-Z]*)"`).FindAllStringSubmatch(src, -1) {
		except[e[1]] = e[2]
	}
	js := func(zip string) string {
		if s, ok := except[zip]; ok {
			return s
		}
		var p int
		fmt.Sscanf(zip[:3], "%d", &p)
		if s := m[1][p*2 : p*2+2]; s != "--" {
			return s
		}
		return ""
	}
	bad := 0
	for n := range 100000 {
		zip := fmt.Sprintf("%05d", n)
		want, _ := providers.StateOfZIP(zip)
		if got := js(zip); got != want && bad < 10 {
			bad++
			t.Errorf("ZIP %s: derive.js says %q, the server %q", zip, got, want)
		}
	}
}

// derive.js has a rule for every field the forms derive and show, and the
// form page loads it.
func TestDeriveJSCoversTheForms(t *testing.T) {
	b, err := fs.ReadFile(templates.FS, "static/derive.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range form.Forms {
		for field := range f.Derivations() {
			if f.Field(field) == nil {
				continue // not shown (the employer's phone)
			}
			if !regexp.MustCompile(`"` + field + `"`).Match(b) {
				t.Errorf("form %s: derive.js never fills %s", f.Name, field)
			}
		}
	}
	v, err := New(templates.FS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := v.FormView(form.US, Layout{}, "en", nil, nil, time.Now(), time.UTC); !slices.Contains(p.Page.Scripts, "/static/derive.js") {
		t.Errorf("the form page's scripts %v lack derive.js", p.Page.Scripts)
	}
}
