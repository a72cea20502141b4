package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers/sandbox"
)

// The sandbox's test values (its "Fill with test values" button) cover
// every required field of both forms, pass the forms' own rules, and are
// what the README's walk-through lists, field by field.
func TestSandboxTestValuesFillEveryRequiredField(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	walkThrough := map[string]string{"us": readmeSection(string(b), "### The United States flow"), "es": readmeSection(string(b), "### The Spanish flow")}
	now := time.Now()
	for name, f := range form.Forms {
		loc, err := time.LoadLocation(f.TimeZone)
		if err != nil {
			t.Fatal(err)
		}
		values, readme := sandbox.TestValues[name], walkThrough[name]
		for field := range values {
			if f.Field(field) == nil {
				t.Errorf("%s: test value for %s, not a field of the form", name, field)
			}
		}
		vals := form.Values{}
		for _, fd := range f.Fields() {
			if !fd.Required || fd.Derived {
				continue // a derived field is filled from the others
			}
			if fd.Kind == form.Consent {
				// The consumer's own click: named in the README, never filled.
				if _, ok := values[fd.Name]; ok {
					t.Errorf("%s: the button would tick %s", name, fd.Name)
				}
				if !strings.Contains(readme, "`"+fd.Name+"`") {
					t.Errorf("%s: the README's walk-through does not tell to tick %s", name, fd.Name)
				}
				vals[fd.Name] = "1"
				continue
			}
			v, ok := values[fd.Name]
			if !ok {
				t.Errorf("%s: no test value for the required %s", name, fd.Name)
				continue
			}
			vals[fd.Name] = testValue(v, now, loc)
			if row := readmeRow(readme, fd.Name); !strings.Contains(row, readmeValue(v)) {
				t.Errorf("%s: the README lists %s as %q, want %s", name, fd.Name, row, readmeValue(v))
			}
		}
		if _, problems := f.Validate(vals, now, loc); len(problems) > 0 {
			t.Errorf("%s: the test values do not pass the form: %v", name, problems)
		}
	}
}

// testValue resolves a test value's "-5d" / "+9d" (days from today).
func testValue(v string, now time.Time, loc *time.Location) string {
	if d, ok := testDays(v); ok {
		return now.In(loc).AddDate(0, 0, d).Format("2006-01-02")
	}
	return v
}

func testDays(v string) (int, bool) {
	if !strings.HasSuffix(v, "d") || len(v) < 3 || (v[0] != '-' && v[0] != '+') {
		return 0, false
	}
	var d int
	for _, c := range v[1 : len(v)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		d = d*10 + int(c-'0')
	}
	if v[0] == '-' {
		d = -d
	}
	return d, true
}

// readmeValue is how the README writes a test value.
func readmeValue(v string) string {
	switch d, ok := testDays(v); {
	case ok && d < 0:
		return strconv.Itoa(-d) + " days ago"
	case ok:
		return strconv.Itoa(d) + " days from today"
	}
	return "`" + v + "`"
}

// readmeSection is the text under heading, up to the next heading.
func readmeSection(readme, heading string) string {
	_, after, _ := strings.Cut(readme, heading+"\n")
	section, _, _ := strings.Cut(after, "\n#")
	return section
}

// readmeRow is the table row of field in a README section.
func readmeRow(section, field string) string {
	for line := range strings.SplitSeq(section, "\n") {
		if strings.Contains(line, "| `"+field+"` |") {
			return line
		}
	}
	return ""
}
