package form

import (
	"strconv"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// Input is how a field is written in HTML: its type and the constraint
// attributes generated from the same rules the server checks.
type Input struct {
	Type         string // text, email, number, date, tel, select, checkbox, radio
	Required     bool
	Pattern      string
	MinLength    int
	MaxLength    int
	Min, Max     string
	InputMode    string
	Autocomplete string
}

// Input returns the HTML input for the field today.
func (fd *Field) Input(now time.Time, loc *time.Location) Input {
	in := Input{Required: fd.Required && !fd.Derived, Autocomplete: fd.Autocomplete, MaxLength: fd.MaxLen, MinLength: fd.MinLen}
	switch fd.Kind {
	case Text:
		in.Type = "text"
		if fd.Format != nil {
			in.Pattern = fd.Format.Pattern()
			in.InputMode = fd.Format.InputMode
			if in.InputMode == "tel" {
				in.Type = "tel"
				in.InputMode = ""
			}
		}
	case Email:
		in.Type, in.InputMode = "email", ""
	case Int:
		in.Type, in.InputMode = "number", "numeric"
		in.Min, in.Max = strconv.Itoa(fd.Min), strconv.Itoa(fd.Max)
		in.MaxLength, in.MinLength = 0, 0
	case Date:
		in.Type = "date"
		lo, hi := fd.DateBounds(now, loc)
		if !lo.IsZero() {
			in.Min = lo.Format(providers.DateLayout)
		}
		if !hi.IsZero() {
			in.Max = hi.Format(providers.DateLayout)
		}
	case Choice:
		in.Type = "select"
	case Consent, Check:
		in.Type = "checkbox"
	case YesNo:
		in.Type = "radio"
	}
	return in
}

// CheckName is the name of the field's checksum (its format's Check: a
// DNI's letter, an IBAN's digits, a routing number's sum), which steps.js
// runs too, or "" for none.
func (fd *Field) CheckName() string {
	if fd.Format == nil || fd.Format.Check == nil {
		return ""
	}
	return fd.Format.Name
}

// ClientProblems are the problems a browser's own constraint checks find
// in the field, by the validity state that finds them (missing, pattern,
// short, long, range, type, bad), and "check" for its format's checksum,
// which steps.js runs (CheckName): the same Problem the server would
// give, so a step is checked before moving on with the catalog's words.
func (fd *Field) ClientProblems() map[string]Problem {
	out := map[string]Problem{}
	if fd.Required || fd.RequiredIf != "" {
		out["missing"] = Problem{Key: "required"}
		if fd.Kind == Consent {
			out["missing"] = Problem{Key: "must_accept"}
		}
	}
	switch fd.Kind {
	case Text, Email:
		if fd.MinLen > 0 {
			out["short"] = Problem{Key: "too_short", Params: map[string]any{"min": fd.MinLen}}
		}
		if fd.MaxLen > 0 {
			out["long"] = Problem{Key: "too_long", Params: map[string]any{"max": fd.MaxLen}}
		}
		if fd.Kind == Email {
			out["type"] = Problem{Key: "email"}
		}
		if fd.Format != nil {
			out["pattern"] = Problem{Key: "format." + fd.Format.Name}
		}
		if name := fd.CheckName(); name != "" {
			out["check"] = Problem{Key: "check." + name}
		}
	case Int:
		out["range"] = Problem{Key: "range", Params: map[string]any{"min": fd.Min, "max": fd.Max}}
		out["bad"] = Problem{Key: "number"}
	case Date:
		if fd.Dates != AnyDate {
			out["range"] = Problem{Key: "date." + fd.dateKey()}
		}
		out["bad"] = Problem{Key: "date"}
	}
	return out
}
