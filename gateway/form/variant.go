package form

import (
	"fmt"
	"slices"
)

// Without is a copy of f that does not ask the named fields: an
// experiment variant's form. Only a plain optional field may be left out:
// not a required one, not a consent (its absence would read as "not
// given"), and not one another field's requirement depends on.
//
// The copy derives what the consumer left empty as f does. It is always a
// new *Form, even with nothing skipped, so that what is cached per form (a
// rendered page) is cached per variant.
func (f *Form) Without(skip []string) (*Form, error) {
	for _, name := range skip {
		fd := f.Field(name)
		switch {
		case fd == nil:
			return nil, fmt.Errorf("form %s has no field %q", f.Name, name)
		case fd.Required || fd.RequiredIf != "" || fd.Kind == Consent:
			return nil, fmt.Errorf("field %q is required or a consent: only optional fields can be skipped", name)
		}
		for _, other := range f.Fields() {
			if other.RequiredIf == name {
				return nil, fmt.Errorf("field %q decides whether %q is required: it cannot be skipped", name, other.Name)
			}
		}
	}
	sections := make([]Section, 0, len(f.Sections))
	for _, s := range f.Sections {
		kept := s
		kept.Fields = slices.DeleteFunc(slices.Clone(s.Fields), func(fd *Field) bool { return slices.Contains(skip, fd.Name) })
		if len(kept.Fields) > 0 {
			sections = append(sections, kept)
		}
	}
	// The derivations too: without them a field the page shows as
	// derived (not required) would be required at submit, and a consumer
	// without JavaScript could not send the form.
	return newForm(f.Name, f.Country, f.TimeZone, sections...).withDerivations(f.derivations...), nil
}
