package form

import (
	"encoding/json"
	"io/fs"
	"os/exec"
	"regexp"
	"strings"
	"testing"

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
