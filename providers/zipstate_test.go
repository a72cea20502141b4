package providers

import (
	"slices"
	"testing"
)

// Real ZIP codes, at least one per state and DC, each checked against a
// ZIP code database: what a consumer types, and the state the form should
// then show.
func TestStateOfZIP(t *testing.T) {
	tests := []struct{ zip, want string }{
		{"35203", "AL"}, {"36104", "AL"},
		{"99501", "AK"}, {"99801", "AK"},
		{"85004", "AZ"}, {"85701", "AZ"},
		{"72201", "AR"},
		{"90210", "CA"}, {"94103", "CA"}, {"96150", "CA"},
		{"80202", "CO"}, {"81501", "CO"},
		{"06103", "CT"}, {"06830", "CT"},
		{"19901", "DE"}, {"19801", "DE"},
		{"20001", "DC"}, {"20500", "DC"}, {"56901", "DC"},
		{"33101", "FL"}, {"32301", "FL"},
		{"30303", "GA"}, {"39901", "GA"},
		{"96813", "HI"}, {"96720", "HI"},
		{"83702", "ID"},
		{"60601", "IL"}, {"62701", "IL"},
		{"46204", "IN"},
		{"50309", "IA"},
		{"66603", "KS"}, {"67202", "KS"},
		{"40202", "KY"}, {"40601", "KY"},
		{"70112", "LA"}, {"70802", "LA"},
		{"04101", "ME"}, {"04330", "ME"},
		{"21201", "MD"}, {"20814", "MD"},
		{"02108", "MA"}, {"01103", "MA"}, {"05501", "MA"},
		{"48226", "MI"}, {"49503", "MI"},
		{"55401", "MN"},
		{"39201", "MS"}, {"38655", "MS"},
		{"63101", "MO"}, {"64105", "MO"},
		{"59601", "MT"},
		{"68102", "NE"}, {"69101", "NE"},
		{"89101", "NV"}, {"89501", "NV"},
		{"03301", "NH"},
		{"07102", "NJ"}, {"08608", "NJ"},
		{"87501", "NM"}, {"87102", "NM"},
		{"10001", "NY"}, {"12207", "NY"}, {"00501", "NY"},
		{"27601", "NC"}, {"28202", "NC"},
		{"58501", "ND"},
		{"43215", "OH"}, {"44113", "OH"},
		{"73102", "OK"}, {"74103", "OK"},
		{"97201", "OR"}, {"97301", "OR"},
		{"19103", "PA"}, {"15222", "PA"},
		{"02903", "RI"},
		{"29201", "SC"},
		{"57501", "SD"}, {"57104", "SD"},
		{"37203", "TN"}, {"38103", "TN"},
		{"78702", "TX"}, {"77002", "TX"}, {"79901", "TX"}, {"88510", "TX"}, {"73301", "TX"},
		{"84101", "UT"},
		{"05401", "VT"}, {"05602", "VT"},
		{"23219", "VA"}, {"20166", "VA"},
		{"98101", "WA"}, {"99201", "WA"},
		{"25301", "WV"},
		{"53202", "WI"}, {"53703", "WI"},
		{"82001", "WY"}, {"83001", "WY"},
		// ZIP codes whose post office is in another state than the rest
		// of their prefix.
		{"06390", "NY"}, {"73960", "TX"}, {"83414", "WY"}, {"20588", "MD"}, {"20598", "VA"},
		// The forms the us form accepts: ZIP+4 with or without its dash.
		{"78702-1234", "TX"}, {"787021234", "TX"}, {"10001-0001", "NY"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got, ok := StateOfZIP(tt.zip)
		if !ok || got != tt.want {
			t.Errorf("StateOfZIP(%q) = %q, %v; want %q, true", tt.zip, got, ok, tt.want)
		}
		seen[tt.want] = true
	}
	for _, s := range States {
		if !seen[s.Code] {
			t.Errorf("no ZIP of %s (%s) in the table test", s.Code, s.Name)
		}
	}
}

// The first and last prefix of ranges, and the prefixes beside them: an
// off-by-one in the table shows here.
func TestStateOfZIPRangeBoundaries(t *testing.T) {
	tests := []struct{ zip, want string }{
		{"00500", "NY"}, {"00599", "NY"}, {"00600", ""}, // 006 is Puerto Rico
		{"01000", "MA"}, {"02799", "MA"}, {"02800", "RI"}, {"02999", "RI"},
		{"03000", "NH"}, {"03899", "NH"}, {"03900", "ME"}, {"04999", "ME"},
		{"05499", "VT"}, {"05500", "MA"}, {"05599", "MA"}, {"05600", "VT"},
		{"08999", "NJ"}, {"09000", ""}, // 090–098 are APO/FPO Europe (AE)
		{"19699", "PA"}, {"19700", "DE"}, {"19999", "DE"},
		{"20099", "DC"}, {"20100", "VA"}, {"20199", "VA"}, {"20200", "DC"}, {"20599", "DC"}, {"20600", "MD"},
		{"21299", "MD"}, {"21300", ""}, {"21399", ""}, {"21400", "MD"},
		{"33999", "FL"}, {"34000", ""}, {"34099", ""}, {"34100", "FL"},
		{"34999", "FL"}, {"35000", "AL"}, {"36999", "AL"}, {"37000", "TN"},
		{"39799", "MS"}, {"39800", "GA"}, {"39999", "GA"}, {"40000", "KY"},
		{"72999", "AR"}, {"73000", "OK"}, {"73299", ""}, {"73300", "TX"}, {"73399", "TX"}, {"73400", "OK"},
		{"88499", "NM"}, {"88500", "TX"}, {"88599", "TX"}, {"88600", ""}, {"88899", ""}, {"88900", "NV"},
		{"96199", "CA"}, {"96200", ""}, {"96699", ""}, {"96700", "HI"}, {"96899", "HI"}, {"96900", ""},
		{"96999", ""}, {"97000", "OR"},
		{"99499", "WA"}, {"99500", "AK"}, {"99999", "AK"},
	}
	for _, tt := range tests {
		got, ok := StateOfZIP(tt.zip)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("StateOfZIP(%q) = %q, %v; want %q, %v", tt.zip, got, ok, tt.want, tt.want != "")
		}
	}
}

// Territories, military post and prefixes no state uses: none is a state
// the form offers, so no state is derived and the consumer picks one.
func TestStateOfZIPNotAState(t *testing.T) {
	for _, zip := range []string{
		"00901", "00725", "00936", // Puerto Rico
		"00802", "00820", // US Virgin Islands
		"96910", "96932", // Guam
		"96950", "96952", // Northern Mariana Islands
		"96799",                   // American Samoa, inside Hawaii's 967
		"96939", "96941", "96960", // Palau, Micronesia, Marshall Islands
		"09012", "09498", // APO/FPO Europe (AE)
		"34001", "34099", // APO/FPO Americas (AA)
		"96201", "96601", // APO/FPO Pacific (AP)
		"00000", "00100", "00400", "09900", "21300", "26900", "34300", "34500", "34800", "35300",
		"41900", "42800", "42900", "51700", "51900", "52900", "53300", "53600", "55200", "56800",
		"57800", "57900", "58900", "62100", "63200", "64200", "64300", "65900", "66300", "68200",
		"69400", "69999", "70200", "70900", "71500", "73200", "74200", "77100", "81700", "81999",
		"83900", "84800", "84900", "85400", "85800", "86100", "86200", "86600", "86999", "87200",
		"88600", "88800", "89200", "89600", "89900", "90900", "92900", "98700", // unassigned
	} {
		if got, ok := StateOfZIP(zip); ok || got != "" {
			t.Errorf("StateOfZIP(%q) = %q, %v; want \"\", false", zip, got, ok)
		}
	}
}

func TestStateOfZIPMalformed(t *testing.T) {
	for _, zip := range []string{
		"", "7870", "787", "787021", "7870212", "78702123", "7870212345",
		"78702-123", "78702-12345", "78702 1234", "-78702", "78702-", "7870-21234",
		"7870A", "ABCDE", "78702-ABCD", " 78702", "78702 ", "７８７０２", "+7870",
	} {
		if got, ok := StateOfZIP(zip); ok || got != "" {
			t.Errorf("StateOfZIP(%q) = %q, %v; want \"\", false", zip, got, ok)
		}
	}
}

// Every state the form offers can be derived from some ZIP, and the table
// holds no code that is neither a form state nor one of the territories
// and military codes it keeps on purpose.
func TestZIPPrefixTableComplete(t *testing.T) {
	has := map[string]bool{}
	for _, r := range zipPrefixes {
		has[r.code] = true
	}
	for _, s := range States {
		if !has[s.Code] {
			t.Errorf("%s (%s) has no ZIP prefix", s.Code, s.Name)
		}
	}
	notStates := []string{"PR", "VI", "GU", "AE", "AA", "AP"}
	for code := range has {
		isState := slices.ContainsFunc(States, func(s State) bool { return s.Code == code })
		if !isState && !slices.Contains(notStates, code) {
			t.Errorf("the table has %q, neither a form state nor a known territory or military code", code)
		}
	}
}

// The lookup relies on the ranges being sorted, apart and within 000–999.
func TestZIPPrefixTableSorted(t *testing.T) {
	prev := -1
	for i, r := range zipPrefixes {
		if int(r.first) <= prev || r.last < r.first || r.last > 999 {
			t.Errorf("range %d (%03d–%03d %s) overlaps, is reversed or is out of order after %03d", i, r.first, r.last, r.code, prev)
		}
		prev = int(r.last)
	}
}

func BenchmarkStateOfZIP(b *testing.B) {
	zips := []string{"78702", "10001-0001", "99501", "00901", "96799", "21300"}
	for i := 0; b.Loop(); i++ {
		StateOfZIP(zips[i%len(zips)])
	}
}
