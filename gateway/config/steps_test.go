package config

import (
	"strings"
	"testing"
)

// A flow's steps are checked against its form's sections at load, each
// mistake named with its key.
func TestStepsConfig(t *testing.T) {
	withSteps := func(steps string) string {
		return strings.Replace(valid, "default: true }", "default: true, steps: "+steps+" }", 1)
	}
	ok := withSteps(`[{key: a, sections: [loan, personal, contact, address]}, {key: b, sections: [income, bank]}, {key: c, sections: [consent]}]`)
	cfg, err := Parse([]byte(ok), env(secrets))
	if err != nil {
		t.Fatalf("valid steps refused: %v", err)
	}
	if got := len(cfg.Flows[0].Steps); got != 3 || cfg.Flows[0].Steps[2].Sections[0] != "consent" {
		t.Errorf("steps read as %+v", cfg.Flows[0].Steps)
	}
	tests := []struct{ name, steps, want string }{
		{"unknown section", `[{key: a, sections: [loan, personal, contact, address, income, bank, consent, pets]}]`, `flows[0].steps: steps[0] (a): form es has no section "pets"`},
		{"missing section", `[{key: a, sections: [loan, personal, contact, address, income, bank]}]`, `section "consent" of form es is on no step`},
		{"section twice", `[{key: a, sections: [loan, personal, contact, address, income, bank, consent]}, {key: b, sections: [loan]}]`, `steps[1] (b): section "loan" is already on step "a"`},
		{"key twice", `[{key: a, sections: [loan, personal, contact]}, {key: a, sections: [address, income, bank, consent]}]`, `steps[1]: key "a" is used twice`},
		{"no key", `[{sections: [loan, personal, contact, address, income, bank, consent]}]`, `steps[0]: a step needs a key`},
		{"bad key", `[{key: "Step 1", sections: [loan, personal, contact, address, income, bank, consent]}]`, `key "Step 1": use lower-case letters`},
		{"empty step", `[{key: a, sections: [loan, personal, contact, address, income, bank, consent]}, {key: b, sections: []}]`, `steps[1] (b): no sections`},
		{"typo in a step's key", `[{key: a, section: [loan]}]`, "field section not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(withSteps(tt.steps)), env(secrets))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
