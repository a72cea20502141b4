package form

import (
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
)

// derive.js splits the house number off a Spanish street as the consumer
// types it; the server splits what the page did not. Where the page
// splits, run in a JavaScript engine, it splits as the server does: the
// same number, and a street the server writes the same.
func TestDeriveJSSplitsStreetsAsTheServer(t *testing.T) {
	node := nodeFor(t, "run derive.js's street split")
	src, err := fs.ReadFile(templates.FS, "static/derive.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`var STREET = (/.*/i);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("derive.js: no STREET expression")
	}
	streets := []string{"C/ Mayor 5", "Avda. de América, nº 10", "Carrer d’Aragó 5", "Carrer d'Aragó 5", "Carrer de Sant Adrià 5",
		"Calle Mayor 5B", "Calle O´Donnell 12", "Avinguda del Paral·lel 3", "Calle Mayor", "Mayor #5"}
	in, _ := json.Marshal(streets)
	cmd := exec.Command(node, "-e", `const STREET = `+string(m[1])+`;
const streets = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(streets.map(s => { const m = STREET.exec(s); return m ? [m[1], m[2]] : null; })));`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var split [][]string
	if err := json.Unmarshal(out, &split); err != nil || len(split) != len(streets) {
		t.Fatalf("node said %s", out)
	}
	for i, s := range streets {
		server := streetAndNumber.FindStringSubmatch(esPlace(s))
		switch page := split[i]; {
		case page == nil && strings.HasPrefix(s, "Carrer d"):
			t.Errorf("%q: the page does not split it", s)
		case page == nil:
		case server == nil:
			t.Errorf("%q: the page splits it (%q, %q), the server does not", s, page[0], page[1])
		case esPlace(page[0]) != server[1] || page[1] != server[2]:
			t.Errorf("%q: the page splits it %q, %q; the server %q, %q", s, esPlace(page[0]), page[1], server[1], server[2])
		}
	}
}

// derive.js fills the state from the ZIP code as the consumer types it,
// with whatever separators the server takes (it drops spaces, dashes and
// dots): run in a JavaScript engine, each ZIP the page accepts gives the
// state the server derives.
func TestDeriveJSStateOfZIPAsTyped(t *testing.T) {
	node := nodeFor(t, "run derive.js's ZIP lookup")
	src, err := fs.ReadFile(templates.FS, "static/derive.js")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, re := range []string{`var ZIPS = "[A-Z-]+";`, `var EXCEPT = \{[^}]*\};`, `var SEP = /.*?/g;`, `(?s)function stateOfZIP\(zip\) \{.*?\n  \}`} {
		m := regexp.MustCompile(re).Find(src)
		if m == nil {
			t.Fatalf("derive.js: nothing matches %s", re)
		}
		parts = append(parts, string(m))
	}
	zips := []string{"78702", "78702-1234", "78702 1234", "787.02", "7 8 7 0 2", "10001", "06390", "00501", "78702–1234", "78702\u20111234"}
	for _, z := range zips {
		if !US.Field("postal_code").Format.Go.MatchString(US.Field("postal_code").normalize(z)) {
			t.Fatalf("%q: not a ZIP the server takes", z)
		}
	}
	in, _ := json.Marshal(zips)
	cmd := exec.Command(node, "-e", strings.Join(parts, "\n")+`
console.log(JSON.stringify(JSON.parse(require('fs').readFileSync(0, 'utf8')).map(stateOfZIP)));`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var states []*string
	if err := json.Unmarshal(out, &states); err != nil || len(states) != len(zips) {
		t.Fatalf("node said %s", out)
	}
	for i, z := range zips {
		want, _ := providers.StateOfZIP(US.Field("postal_code").normalize(z))
		if got := states[i]; got == nil || *got != want {
			t.Errorf("ZIP %q: derive.js says %v, the server %q", z, states[i], want)
		}
	}
}

// steps.js runs each format's checksum at Next (its CHECKS, written again
// from formats.go). Run in a JavaScript engine, on the value as steps.js
// compacts it (its SEP, upper case), each gives the server's verdict: on
// the rule samples, and on thousands of values of the right shape drawn
// at random, about one in ten of which passes.
func TestClientChecksumsAgreeWithServer(t *testing.T) {
	node := nodeFor(t, "run steps.js's checksums")
	src, err := fs.ReadFile(templates.FS, "static/steps.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)var CHECKS = (\{.*?\});\n\s*// CHECKS end`).FindSubmatch(src)
	if m == nil {
		t.Fatal("steps.js: no CHECKS block")
	}
	sep := regexp.MustCompile(`var SEP = (/.*?/g);`).FindSubmatch(src)
	if sep == nil {
		t.Fatal("steps.js: no SEP expression")
	}
	type probe struct {
		Check string `json:"check"`
		Value string `json:"value"`
		Want  bool   `json:"want"`
	}
	var probes []probe
	add := func(fd *Field, v string) {
		n := fd.normalize(v)
		if !fd.Format.Go.MatchString(n) {
			return // the pattern's to refuse, not the checksum's
		}
		probes = append(probes, probe{fd.CheckName(), v, fd.Format.Check(n)})
	}
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	letter := func(from string) string { return string(from[r.IntN(len(from))]) }
	fields := map[string]*Field{"national_id": ES.Field("national_id"), "iban": ES.Field("iban"), "ssn": US.Field("ssn"), "bank_routing_number": US.Field("bank_routing_number")}
	for name, fd := range fields {
		if fd.CheckName() == "" {
			t.Fatalf("%s: no checksum", name)
		}
	}
	for _, s := range append(append(ruleSamples[:0:0], ruleSamples...), usRuleSamples...) {
		if fd := fields[s.field]; fd != nil {
			for _, v := range append(append([]string{}, s.valid...), s.invalid...) {
				add(fd, v)
			}
		}
	}
	for range 2000 {
		add(fields["national_id"], digits(8)+letter(dniLetters))
		add(fields["national_id"], letter("KLMXYZ")+digits(7)+letter(dniLetters))
		add(fields["national_id"], letter("ABCDEFGHJNPQRSUVW")+digits(7)+letter("0123456789ABCDEFGHIJ"))
		add(fields["iban"], "ES"+digits(22))
		add(fields["ssn"], letter("0689")+digits(8))
		add(fields["bank_routing_number"], digits(9))
	}
	in, _ := json.Marshal(probes)
	cmd := exec.Command(node, "-e", `const CHECKS = `+string(m[1])+`;
const SEP = `+string(sep[1])+`;
const probes = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const bad = probes.filter(p => CHECKS[p.check](p.value.replace(SEP, "").toUpperCase()) !== p.want).map(p => p.check + ': ' + p.value + ' page says ' + !p.want);
console.log(JSON.stringify({n: probes.length, passed: probes.filter(p => p.want).length, bad: bad.slice(0, 20)}));`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var res struct {
		N, Passed int
		Bad       []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node said %s", out)
	}
	for _, b := range res.Bad {
		t.Error(b)
	}
	if res.N < 10000 || res.Passed < res.N/20 || res.Passed > res.N/2 {
		t.Errorf("%d probes, %d passing the server's checksum: want both kinds in number", res.N, res.Passed)
	}
}
