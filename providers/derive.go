package providers

import "time"

// LastPayDate is the pay date before next for a pay frequency (the
// canonical weekly, biweekly, twice_monthly, monthly), so the us form asks
// for the next pay date only. Twice monthly is taken as half a month (15
// days), the usual 1st/15th or 15th/last schedule; ok is false for an
// unknown frequency or no next date. The consumer sees it and may change it.
func LastPayDate(next time.Time, frequency string) (time.Time, bool) {
	if next.IsZero() {
		return time.Time{}, false
	}
	switch frequency {
	case "weekly":
		return next.AddDate(0, 0, -7), true
	case "biweekly":
		return next.AddDate(0, 0, -14), true
	case "twice_monthly":
		return next.AddDate(0, 0, -15), true
	case "monthly":
		return next.AddDate(0, -1, 0), true
	}
	return time.Time{}, false
}

// CompleteUS fills what a us application asks once and a buyer wants
// twice, where it was left empty: the employer's phone is the work phone,
// the home phone the mobile (unless the consumer gave another), the state
// the ZIP code's, the driver's licence state the home state, the last pay
// date the one before the next. The form derives the same values (and
// shows them); this is the mappers' guard, so a buyer always gets every
// field its document requires. For us applications only: a Spanish postal
// code is not a ZIP code.
func CompleteUS(a Application) Application {
	if a.EmployerPhone == "" {
		a.EmployerPhone = a.WorkPhone
	}
	if a.HomePhone == "" {
		a.HomePhone = a.MobilePhone
	}
	if a.State == "" {
		a.State, _ = StateOfZIP(a.PostalCode)
	}
	if a.DriversLicenseState == "" {
		a.DriversLicenseState = a.State
	}
	if a.LastPayDate.IsZero() {
		a.LastPayDate, _ = LastPayDate(a.NextPayDate, a.PayFrequency)
	}
	return a
}
