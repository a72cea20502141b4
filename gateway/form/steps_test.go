package form

import "testing"

// Every form's default steps place each of its sections once, and the
// default layout works for every form.
func TestDefaultStepsFitEveryForm(t *testing.T) {
	for name, f := range Forms {
		if err := f.CheckSteps(DefaultStepsOf(f)); err != nil {
			t.Errorf("form %s, its default steps: %v", name, err)
		}
		if err := f.CheckSteps(DefaultSteps); err != nil {
			t.Errorf("form %s, form.DefaultSteps: %v", name, err)
		}
	}
	if got := len(DefaultStepsOf(ES)); got != 4 {
		t.Errorf("es default: %d steps, want 4", got)
	}
	if last := DefaultStepsOf(US)[len(DefaultStepsOf(US))-1]; last.Key != "review" || last.Sections[0] != "consent" {
		t.Errorf("us default ends with %+v, want the review step with the consents", last)
	}
	if err := US.CheckSteps(nil); err == nil {
		t.Error("no steps accepted")
	}
}
