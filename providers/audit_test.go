package providers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// exchange makes one call through Send under a recording context, to a
// buyer that answers status, contentType and answer, and masks it.
func exchange(t *testing.T, m *Audit, contentType, body string, status int, answerType, answer string, a *Application) Exchange {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", answerType)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	ctx, rec := WithRecording(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/lead/send?api_key=secret", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if _, _, err := Send(srv.Client(), req, "buyer", 1<<20); err != nil {
		t.Fatal(err)
	}
	return m.Mask(rec, a)
}

// Support reads what a buyer was sent and answered; the consumer's values
// are masked, the codes and amounts kept, in the order they were sent.
func TestAuditMasksEveryValueItDoesNotName(t *testing.T) {
	a := &Application{FirstName: "Kyle", LastName: "Trazo", Email: "kyle@blendit.eu", MobilePhone: "608819736"}
	m := NewAudit([]string{"loan_sum", "occupation", "success", "field", "status", "Response", "Price", "tier"},
		[]string{"message", "Reason", "Error"})

	t.Run("json", func(t *testing.T) {
		x := exchange(t, m, "application/json",
			`{"loan_sum":200,"first_name":"Kyle","phone":"608819736","address":{"street":"Maestro Puig","flat_number":""},`+
				`"agreements":{"legal_consent":true},"occupation":"EMPLOYED","income":10000,"extra":null,"tags":["a","b"]}`,
			422, "application/json",
			`{"success":false,"data":{"status":"failed","responses":[{"status":422,"results":[{"field":"phone","message":"608819736 de Kyle no es válido"}]}]},"redirect_url":"https://x.example/?e=kyle@blendit.eu"}`,
			a)
		wantReq := `POST /v1/lead/send` + "\n\n" +
			`{"loan_sum":200,"first_name":"•••","phone":"•••","address":{"street":"•••","flat_number":""},` +
			`"agreements":{"legal_consent":true},"occupation":"EMPLOYED","income":"•••","extra":null,"tags":["•••","•••"]}`
		if x.Request != wantReq {
			t.Errorf("request:\n got %s\nwant %s", x.Request, wantReq)
		}
		wantResp := `{"success":false,"data":{"status":"failed","responses":[{"status":422,"results":[{"field":"phone","message":"••• de ••• no es válido"}]}]},"redirect_url":"•••"}`
		if x.Status != 422 || x.Response != wantResp {
			t.Errorf("answer %d:\n got %s\nwant %s", x.Status, x.Response, wantResp)
		}
	})
	t.Run("form and xml", func(t *testing.T) {
		x := exchange(t, m, "application/x-www-form-urlencoded", "tier=tier100&first_name=Kyle&email=kyle%40blendit.eu&loan_sum=300",
			200, "text/xml; charset=utf-8",
			`<?xml version="1.0"?><PostResponse><Response>Rejected</Response><Reason>Duplicate kyle@blendit.eu</Reason>`+
				`<RedirectURL>https://x.example/</RedirectURL><!-- Kyle --><Errors><Error>Bad phone 608819736</Error></Errors></PostResponse>`, a)
		wantReq := "POST /v1/lead/send\n\ntier=tier100\nfirst_name=•••\nemail=•••\nloan_sum=300"
		if x.Request != wantReq {
			t.Errorf("request:\n got %q\nwant %q", x.Request, wantReq)
		}
		wantResp := `<?xml version="1.0"?><PostResponse><Response>Rejected</Response><Reason>Duplicate •••</Reason>` +
			`<RedirectURL>•••</RedirectURL><Errors><Error>Bad phone •••</Error></Errors></PostResponse>`
		if x.Response != wantResp {
			t.Errorf("answer:\n got %s\nwant %s", x.Response, wantResp)
		}
	})
	t.Run("an error page", func(t *testing.T) {
		x := exchange(t, m, "application/json", `{"first_name":"Kyle"}`, 200, "text/html",
			"<html><body>Internal error for kyle@blendit.eu (Tra<b>zo</b>, K&#121;le)</body></html>", a)
		if x.Response != "Internal error for ••• (•••, •••)" {
			t.Errorf("an HTML answer is its text, scrubbed: got %s", x.Response)
		}
	})
	t.Run("a buyer that names nothing", func(t *testing.T) {
		var none *Audit
		x := exchange(t, none, "application/json", `{"loan_sum":200,"occupation":"EMPLOYED"}`, 200, "application/json", `{"success":true}`, a)
		if x.Request != "POST /v1/lead/send\n\n{\"loan_sum\":\"•••\",\"occupation\":\"•••\"}" || x.Response != `{"success":true}` {
			t.Errorf("without an Audit every value is masked: got %s / %s", x.Request, x.Response)
		}
	})
}

// What an attacker's pass over the masking made a buyer answer: the
// consumer's values split by CDATA, comments, markup, entities, invisible
// characters, bytes that are not UTF-8 and namespaces, written as a
// number, as a key, or under a content type that lies.
func TestAuditAnswersThatHideAValue(t *testing.T) {
	a := &Application{FirstName: "Zébulon", LastName: "Quixwórth", Email: "zeb.quix@example.com", SSN: "876543210", City: "Flagstaff"}
	m := NewAudit([]string{"Response", "Confirmation", "request_id", "status"}, []string{"Reason", "message"})
	for _, tc := range []struct{ contentType, answer string }{
		{"text/xml", `<PostResponse><Response>Quix<![CDATA[wórth]]></Response><Confirmation>8765<![CDATA[43210]]></Confirmation></PostResponse>`},
		{"text/xml", `<PostResponse><Reason>Duplicate Zéb<!-- -->ulon Quix<!---->wórth</Reason></PostResponse>`},
		{"text/xml", `<Quixwórth:Response xmlns:Quixwórth="x">1</Quixwórth:Response>`},
		{"text/xml", `<Response Zébulon:x="1" xmlns="urn:zeb.quix@example.com">1</Response>`},
		{"text/xml", `<Response>Rejected in Flagstaff for zeb.quix@example.com</Response>`},
		{"application/json", `{"request_id":8.7654321e8,"status":"Quixwórth","Zébulon":1,"zeb.quix@example.com":2}`},
		{"application/json", "{\"message\":\"Z\u00e9b\xffulon Quix\u200bw\u00f3rth\"}"},
		{"application/x-www-form-urlencoded", "duplicate of zeb.quix@example.com 876 54 3210 in Flagstaff"},
		{"application/x-www-form-urlencoded", "Response=Quixw%C3%B3rth%zz"},
		{"text/html", "<!doctype html><p>Quixw&oacute;rth, Z&#233;b<b>ulon</b>, ZEB\u00adULON</p>"},
	} {
		x := exchange(t, m, "application/json", `{}`, 200, tc.contentType, tc.answer, a)
		folded := string(foldText(x.Response).runes)
		for _, v := range []string{"zebulon", "quixworth", "zeb.quix", "flagstaff", "876543210", "8765", "8.7654321"} {
			if strings.Contains(folded, string(foldText(v).runes)) {
				t.Errorf("%q came through:\n%s\n->\n%s", v, tc.answer, x.Response)
			}
		}
	}
}

// A call made without a recording context keeps nothing (the Cashcat
// and CRM clients share Send), and the answer of a failed call is none.
func TestSendRecordsOnlyWhenAsked(t *testing.T) {
	ctx, rec := WithRecording(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:1/x", strings.NewReader(`{"a":1}`))
	if _, _, err := Send(http.DefaultClient, req, "buyer", 1<<10); err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	if x := (&Audit{}).Mask(rec, nil); x.Request != "POST /x\n\n{\"a\":\"•••\"}" || x.Status != 0 || x.Response != "" {
		t.Errorf("a call that got no answer: %+v", x)
	}
}

// BenchmarkAuditMask: one buyer exchange masked for its audit record (a
// us lead of 54 members and an answer with a comment), the work each
// attempt adds to a submission.
func BenchmarkAuditMask(b *testing.B) {
	req := []byte(`{"lead_provider_id":"LP","campaign_id":"SANDBOX","request_id":"01a21f26fb7e703bce349a731628dbc4fb0de3bfe76e","affiliate_id":"leadgate","affiliate_sub_id":"cashcat-ph_us-spring","lead_price":25,"application_website":"http://127.0.0.1:8080/","ip_address":"203.0.113.9","requested_amount":500,"ssn":"876543210","dob":"1985-07-04","first_name":"John","last_name":"Smith","address":"1 Congress Ave","city":"Austin","state":"TX","zip_code":"78702","home_phone":"5125550135","mobile_phone":"5125550134","work_phone":"5125550136","drivers_license_state":"TX","drivers_license_number":"D1234567","is_military":false,"residence_type":"Rent","email":"john.smith@example.com","residence_months":30,"is_citizen":true,"is_subscribed_future_offers":false,"income_type":"Employed","payment_type":"Direct Deposit","employment_type":"Full Time","employment_months":56,"employer_name":"Acme Corp","employment_address":"2 Main St","employer_phone":"5125550100","supervisor_name":"Jane Roe","pay_frequency":"Bi-Weekly","last_paydate":"2026-11-22","next_paydate":"2026-12-06","net_monthly_income":3500,"bank_name":"Chase","bank_account_type":"Checking","bank_routing_number":"021000021","bank_account_number":"12345678","bank_months":40,"is_direct_deposit":true,"user_string":"Mozilla/5.0","sms_opt_in":false}`)
	resp := []byte(`{"request_id":"01a21f26fb7e703bce349a731628dbc4fb0de3bfe76e","decision":"Denied","redirect_url":null,"comment":"Lead did not meet the lender's criteria"}`)
	rec := &Recording{method: "POST", path: "/process-lp-lead", request: req, requestType: "application/json", status: 200, response: resp, responseType: "application/json"}
	m := NewAudit([]string{"lead_provider_id", "campaign_id", "request_id", "requested_amount", "state", "decision"}, []string{"comment"})
	a := &Application{FirstName: "John", LastName: "Smith", Email: "john.smith@example.com", SSN: "876543210", MobilePhone: "5125550134",
		AddressLine1: "1 Congress Ave", City: "Austin", PostalCode: "78702", EmployerName: "Acme Corp", BankAccountNumber: "12345678"}
	b.ReportAllocs()
	for b.Loop() {
		if x := m.Mask(rec, a); x.Status != 200 {
			b.Fatal(x)
		}
	}
}

var plantedWord = regexp.MustCompile(`(^|[^\p{L}\p{N}])(zebulon|quixworth|zeb\.quix)($|[^\p{L}\p{N}])`)

// Whatever a buyer answers, in whatever shape, the consumer's own values
// do not come through to the audit record, and masking never panics.
func FuzzAuditMaskAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"success":false,"data":{"status":"failed","responses":[{"status":422,"results":[{"field":"phone","message":"Zebulon 876543210"}]}]}}`,
		`{"decision":"Zebulon","comment":"dup of zeb.quix@example.com","request_id":"876-54-3210"}`,
		`<?xml version="1.0"?><PostResponse><Response>Rejected</Response><Reason>Duplicate QUIXWORTH</Reason><Errors><Error>ssn 876 54 3210</Error></Errors></PostResponse>`,
		`<PostResponse Response="Zébulon"><Confirmation>876543210</Confirmation></PostResponse>`,
		`<html><body>error for ZEBULON</body></html>`, "tier=Zebulon&Response=876543210", `{"Zebulon":{"876543210":[1,"x"]}}`, "",
	} {
		f.Add([]byte(seed), "application/json")
		f.Add([]byte(seed), "application/x-www-form-urlencoded")
	}
	m := NewAudit([]string{"status", "field", "decision", "request_id", "Response", "Confirmation", "tier"}, []string{"message", "comment", "Reason", "Error"})
	a := &Application{FirstName: "Zébulon", LastName: "Quixworth", Email: "zeb.quix@example.com", SSN: "876543210"}
	f.Fuzz(func(t *testing.T, answer []byte, contentType string) {
		x := m.Mask(&Recording{method: "POST", path: "/", status: 200, response: answer, responseType: contentType}, a)
		// Names as whole words (ScrubReason's rule: "Ali" is not taken out
		// of "Invalid", nor "Zebulon" out of "ZEBULON0"), digits anywhere.
		folded := string(foldText(x.Response).runes)
		if w := plantedWord.FindString(folded); w != "" {
			t.Fatalf("%q came through:\n%q\n->\n%q", w, answer, x.Response)
		}
		for _, v := range []string{"876543210", "876-54-3210"} {
			if strings.Contains(folded, v) {
				t.Fatalf("%q came through:\n%q\n->\n%q", v, answer, x.Response)
			}
		}
	})
}
