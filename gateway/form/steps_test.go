package form

import "testing"

// The default steps place each section of every form once.
func TestDefaultStepsFitEveryForm(t *testing.T) {
	for name, f := range Forms {
		if err := f.CheckSteps(DefaultSteps); err != nil {
			t.Errorf("form %s, its default steps: %v", name, err)
		}
	}
	if last := DefaultSteps[len(DefaultSteps)-1]; last.Key != "review" || last.Sections[0] != "consent" {
		t.Errorf("us default ends with %+v, want the review step with the consents", last)
	}
	if err := US.CheckSteps(nil); err == nil {
		t.Error("no steps accepted")
	}
}
