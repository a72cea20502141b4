package form

import "testing"

// Each derivation fills only what the consumer left empty, from what they
// typed; where the sources say nothing, the field stays empty (and the
// server's "required" shows beside it).
func TestDerive(t *testing.T) {
	for _, tt := range []struct {
		name   string
		f      *Form
		in     Values
		field  string
		want   string
		street string // es: the street left after the split
	}{
		{"state from ZIP", US, Values{"postal_code": "78702"}, "state", "TX", ""},
		{"state from ZIP+4", US, Values{"postal_code": "78702-1234"}, "state", "TX", ""},
		{"an exception of its prefix", US, Values{"postal_code": "06390"}, "state", "NY", ""},
		{"a territory: no state", US, Values{"postal_code": "00901"}, "state", "", ""},
		{"the consumer's state kept", US, Values{"postal_code": "78702", "state": "OK"}, "state", "OK", ""},
		{"licence state is the ZIP's state", US, Values{"postal_code": "10001"}, "drivers_license_state", "NY", ""},
		{"licence state is the home state", US, Values{"postal_code": "10001", "state": "NJ"}, "drivers_license_state", "NJ", ""},
		{"the consumer's licence state kept", US, Values{"state": "NJ", "drivers_license_state": "PA"}, "drivers_license_state", "PA", ""},
		{"home phone is the mobile", US, Values{"mobile_phone": "(512) 555-0134"}, "home_phone", "5125550134", ""},
		{"the consumer's home phone kept", US, Values{"mobile_phone": "5125550134", "home_phone": "5125550135"}, "home_phone", "5125550135", ""},
		{"employer phone is the work phone", US, Values{"work_phone": "512-555-0136"}, "employer_phone", "5125550136", ""},
		{"last pay: weekly", US, Values{"next_pay_date": "2026-11-25", "pay_frequency": "weekly"}, "last_pay_date", "2026-11-18", ""},
		{"last pay: biweekly", US, Values{"next_pay_date": "2026-11-25", "pay_frequency": "biweekly"}, "last_pay_date", "2026-11-11", ""},
		{"last pay: twice monthly", US, Values{"next_pay_date": "2026-11-30", "pay_frequency": "twice_monthly"}, "last_pay_date", "2026-11-15", ""},
		{"last pay: monthly", US, Values{"next_pay_date": "2026-12-01", "pay_frequency": "monthly"}, "last_pay_date", "2026-11-01", ""},
		{"last pay not before today: none", US, Values{"next_pay_date": "2026-12-20", "pay_frequency": "weekly"}, "last_pay_date", "", ""},
		{"last pay without a frequency: none", US, Values{"next_pay_date": "2026-11-25"}, "last_pay_date", "", ""},
		{"the consumer's last pay kept", US, Values{"next_pay_date": "2026-11-25", "pay_frequency": "weekly", "last_pay_date": "2026-11-10"}, "last_pay_date", "2026-11-10", ""},
		{"street and number", ES, Values{"address_line1": "Calle Mayor 5"}, "house_number", "5", "Calle Mayor"},
		{"street, nº and number", ES, Values{"address_line1": "Calle de Alcalá, nº 12B"}, "house_number", "12B", "Calle de Alcalá"},
		{"street alone", ES, Values{"address_line1": "Calle Mayor"}, "house_number", "", "Calle Mayor"},
		{"the consumer's number kept", ES, Values{"address_line1": "Calle Mayor 5", "house_number": "7"}, "house_number", "7", "Calle Mayor 5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := Values{}
			for k, v := range tt.in {
				in[k] = v
			}
			got := tt.f.Derive(in, now, madrid)
			if got[tt.field] != tt.want {
				t.Errorf("%s: got %q, want %q", tt.field, got[tt.field], tt.want)
			}
			if tt.street != "" && got["address_line1"] != tt.street {
				t.Errorf("street: got %q, want %q", got["address_line1"], tt.street)
			}
			for k, v := range tt.in {
				if in[k] != v {
					t.Errorf("Derive changed its argument's %s", k)
				}
			}
		})
	}
}

// A us form with none of the derived fields typed is valid, and the
// application has them all (the employer's phone included).
func TestUSValidDerivedAtSubmit(t *testing.T) {
	vals := validUS()
	for _, name := range []string{"state", "drivers_license_state", "home_phone", "last_pay_date"} {
		delete(vals, name)
	}
	app, p := US.Validate(vals, now, newYork)
	if len(p) > 0 {
		t.Fatalf("got %v", p)
	}
	if app.State == "" || app.DriversLicenseState != app.State || app.HomePhone != app.MobilePhone || app.EmployerPhone != app.WorkPhone || app.LastPayDate.IsZero() {
		t.Errorf("not derived: state %q licence %q home %q employer %q last pay %v", app.State, app.DriversLicenseState, app.HomePhone, app.EmployerPhone, app.LastPayDate)
	}
}

// A ZIP code of Puerto Rico, another territory or a military post office
// names no state the form offers: the consumer is told so beside the ZIP
// code, not left at a state list without theirs ("required"); the state
// and licence state that could not be derived from it say nothing more.
// A ZIP code the form cannot read still gets its own problem, alone.
func TestUSZIPOutsideTheStates(t *testing.T) {
	for _, tc := range []struct{ zip, state, want string }{
		{"00901", "", "outside_states"},      // San Juan, PR
		{"00802", "", "outside_states"},      // St. Thomas, VI
		{"96910", "", "outside_states"},      // Hagåtña, GU
		{"09012", "", "outside_states"},      // APO AE
		{"34001", "", "outside_states"},      // APO AA
		{"96201-1234", "", "outside_states"}, // APO AP, ZIP+4
		{"00901", "FL", "outside_states"},    // a state picked does not move the address
		{"1234", "", "format.us_zip"},
	} {
		vals := validUS()
		vals["postal_code"], vals["state"] = tc.zip, tc.state
		delete(vals, "drivers_license_state")
		_, p := US.Validate(vals, now, newYork)
		if len(p) != 1 || p["postal_code"].Key != tc.want {
			t.Errorf("ZIP %s, state %q: problems %v, want only %s on the ZIP code", tc.zip, tc.state, p, tc.want)
		}
	}
	// An unassigned prefix is not a place outside the states: the
	// consumer picks the state, as before.
	vals := validUS()
	vals["postal_code"], vals["state"] = "00001", "TX"
	if _, p := US.Validate(vals, now, newYork); len(p) != 0 {
		t.Errorf("ZIP 00001 with a state: %v", p)
	}
}

// An experiment variant's form (Without) derives as its flow's form does.
func TestVariantFormsKeepTheirDerivations(t *testing.T) {
	for _, f := range []*Form{ES, US} {
		v, err := f.Without(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(v.Derivations()), len(f.Derivations()); got != want || want == 0 {
			t.Errorf("%s: the variant's form has %d derivations, the form %d", f.Name, got, want)
		}
	}
}

// A variant's form is built while pages read and forms check the fields
// it shares with its base form: it writes none of them (go test -race
// fails here otherwise).
func TestVariantFormsWriteNoSharedField(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			for _, f := range []*Form{ES, US} {
				if _, err := f.Without(nil); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 50 {
		for _, fd := range US.Fields() {
			fd.Input(now, madrid)
		}
		US.Validate(Values{"first_name": "Kyle", "state": "TX", "loan_amount": "500"}, now, madrid)
	}
	<-done
}
