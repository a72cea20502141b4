package providers

import (
	"slices"
	"sort"
)

// StateOfZIP is the state of a US ZIP code ("78702", "78702-1234" or
// "787021234"), so the us form can show the state (and the driver's
// licence state) already chosen once the consumer has typed the ZIP code.
// ok is false for a malformed ZIP code, for one whose prefix no state uses,
// and for territories and military post (PR, VI, GU, AS, MP, AA, AE, AP):
// none of them is one of the form's States (ZIPOutsideStates tells the
// last apart).
func StateOfZIP(zip string) (state string, ok bool) {
	code := zipCode(zip)
	for _, s := range States {
		if s.Code == code {
			return code, true
		}
	}
	return "", false
}

// ZIPOutsideStates says zip is the ZIP code of a territory or a military
// post office (PR, VI, GU, AA, AE, AP): an address the form's States do
// not hold. A malformed ZIP code, or one whose prefix nobody uses, is not.
func ZIPOutsideStates(zip string) bool {
	code := zipCode(zip)
	return code != "" && !slices.ContainsFunc(States, func(s State) bool { return s.Code == code })
}

// zipCode is the two-letter code the table gives zip: a state, a
// territory or a military code; "" for a malformed ZIP code and for a
// prefix nobody uses.
func zipCode(zip string) string {
	if !zipShape(zip) {
		return ""
	}
	if code := zipException(zip[:5]); code != "" {
		return code
	}
	p := uint16(zip[0]-'0')*100 + uint16(zip[1]-'0')*10 + uint16(zip[2]-'0')
	i := sort.Search(len(zipPrefixes), func(i int) bool { return zipPrefixes[i].last >= p })
	if i == len(zipPrefixes) || zipPrefixes[i].first > p {
		return ""
	}
	return zipPrefixes[i].code
}

// zipShape accepts what the us form accepts (before or after its
// normalisation drops the dash): 5 digits, 9 digits, or 5 and 4 with a
// dash. Anything else, spaces included, is the caller's to clean.
func zipShape(zip string) bool {
	switch {
	case len(zip) == 5 || len(zip) == 9:
		return digits(zip)
	case len(zip) == 10:
		return zip[5] == '-' && digits(zip[:5]) && digits(zip[6:])
	}
	return false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// zipException is the USPS state of the few ZIP codes whose post office
// lies in another state or territory than the rest of its prefix.
func zipException(zip5 string) string {
	switch zip5 {
	case "06390": // Fishers Island, in Connecticut's 063
		return "NY"
	case "20588": // a federal agency's ZIP code, in DC's 205
		return "MD"
	case "20598": // the same agency's, in DC's 205
		return "VA"
	case "73960": // Texhoma, in Oklahoma's 739
		return "TX"
	case "83414": // Alta, in Idaho's 834
		return "WY"
	case "96799": // Pago Pago, in Hawaii's 967
		return "AS"
	}
	return ""
}

// zipPrefix is a run of 3-digit ZIP prefixes (the first three digits of a
// ZIP code) that USPS assigns to one state, territory or military post
// code.
type zipPrefix struct {
	first, last uint16
	code        string
}

// zipPrefixes are the USPS 3-digit ZIP prefix assignments, sorted and
// apart. A prefix in no range is not in use (000–004, 099, 213, 269, 343,
// 345, 348, 353, 419, 428–429, 517–519, 529, 533, 536, 552, 568, 578–579,
// 589, 621, 632, 642–643, 659, 663, 682, 694–699, 702, 709, 715, 732, 742,
// 771, 817–819, 839, 848–849, 854, 858, 861–862, 866–869, 872, 886–888,
// 892, 896, 899, 909, 929, 987). Territories and military post keep their
// own codes here, so the table reads like the USPS list; StateOfZIP turns
// them away. 969 is Guam's and also Northern Mariana Islands', Palau's,
// Micronesia's and the Marshall Islands'. Prefixes are written in decimal:
// a leading zero would make Go read 055 as octal.
//
// Checked against two ZIP code databases: every prefix's state agrees with
// the state most of its ZIP codes carry in one (42,555 ZIP codes; the
// exceptions are in zipException), and the other (the Census's 33,791 ZIP
// areas of 2020) has no ZIP code in a prefix this table leaves out.
var zipPrefixes = []zipPrefix{
	// 0: New England, New Jersey, New York's IRS centre, Puerto Rico,
	// Virgin Islands, APO/FPO Europe.
	{5, 5, "NY"}, {6, 7, "PR"}, {8, 8, "VI"}, {9, 9, "PR"}, {10, 27, "MA"}, {28, 29, "RI"},
	{30, 38, "NH"}, {39, 49, "ME"}, {50, 54, "VT"}, {55, 55, "MA"}, {56, 59, "VT"},
	{60, 69, "CT"}, {70, 89, "NJ"}, {90, 98, "AE"},
	// 1
	{100, 149, "NY"}, {150, 196, "PA"}, {197, 199, "DE"},
	// 2
	{200, 200, "DC"}, {201, 201, "VA"}, {202, 205, "DC"}, {206, 212, "MD"}, {214, 219, "MD"},
	{220, 246, "VA"}, {247, 268, "WV"}, {270, 289, "NC"}, {290, 299, "SC"},
	// 3 (340 is APO/FPO Americas)
	{300, 319, "GA"}, {320, 339, "FL"}, {340, 340, "AA"}, {341, 342, "FL"}, {344, 344, "FL"},
	{346, 347, "FL"}, {349, 349, "FL"}, {350, 352, "AL"}, {354, 369, "AL"}, {370, 385, "TN"},
	{386, 397, "MS"}, {398, 399, "GA"},
	// 4
	{400, 418, "KY"}, {420, 427, "KY"}, {430, 459, "OH"}, {460, 479, "IN"}, {480, 499, "MI"},
	// 5 (569 is DC's parcel return service)
	{500, 516, "IA"}, {520, 528, "IA"}, {530, 532, "WI"}, {534, 535, "WI"}, {537, 549, "WI"},
	{550, 551, "MN"}, {553, 567, "MN"}, {569, 569, "DC"}, {570, 577, "SD"}, {580, 588, "ND"},
	{590, 599, "MT"},
	// 6
	{600, 620, "IL"}, {622, 629, "IL"}, {630, 631, "MO"}, {633, 641, "MO"}, {644, 658, "MO"},
	{660, 662, "KS"}, {664, 679, "KS"}, {680, 681, "NE"}, {683, 693, "NE"},
	// 7 (733 is Austin's IRS centre)
	{700, 701, "LA"}, {703, 708, "LA"}, {710, 714, "LA"}, {716, 729, "AR"}, {730, 731, "OK"},
	{733, 733, "TX"}, {734, 741, "OK"}, {743, 749, "OK"}, {750, 770, "TX"}, {772, 799, "TX"},
	// 8 (885 is El Paso's)
	{800, 816, "CO"}, {820, 831, "WY"}, {832, 838, "ID"}, {840, 847, "UT"}, {850, 853, "AZ"},
	{855, 857, "AZ"}, {859, 860, "AZ"}, {863, 865, "AZ"}, {870, 871, "NM"}, {873, 884, "NM"},
	{885, 885, "TX"}, {889, 891, "NV"}, {893, 895, "NV"}, {897, 898, "NV"},
	// 9 (962–966 are APO/FPO Pacific)
	{900, 908, "CA"}, {910, 928, "CA"}, {930, 961, "CA"}, {962, 966, "AP"}, {967, 968, "HI"},
	{969, 969, "GU"}, {970, 979, "OR"}, {980, 986, "WA"}, {988, 994, "WA"}, {995, 999, "AK"},
}
