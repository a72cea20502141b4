package gateway

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// twoVariants is the es flow's experiment of the tests: b asks two fewer
// optional questions, on one page, its steps in another order.
var twoVariants = []config.Variant{
	{Name: "a", Weight: 50},
	{Name: "b", Weight: 50, Skip: []string{"second_last_name", "address_line2"}, Layout: "one_page",
		Steps: []string{"contact", "you", "income", "bank", "review"}, Headline: "form.title"},
}

func TestVariantConfigIsChecked(t *testing.T) {
	base := `
server: { session_secret: "0123456789abcdef0123456789abcdef" }
storage: { encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
providers: { casheddy: { base_url: "https://casheddy.invalid", username: u, password: p } }
flows:
  - { name: es, form: es, currency: EUR, buyers: [casheddy], variants: %s }
`
	tests := []struct{ variants, want string }{
		{`[{name: a, weight: 1}, {name: a, weight: 1}]`, `flows[0].variants[1].name: variant "a" is defined twice`},
		{`[{name: "A b", weight: 1}]`, `flows[0].variants[0].name: want 1-32 lowercase`},
		{`[{name: a, weight: -1}, {name: b, weight: 1}]`, `flows[0].variants[0].weight: want 0 or more`},
		{`[{name: a, weight: 0}, {name: b, weight: 0}]`, `flows[0].variants: the weights add up to 0`},
		{`[{name: a, weight: 1, layout: carousel}]`, `flows[0].variants[0].layout: want steps or one_page`},
		{`[{name: a, weight: 1, colour: red}]`, `field colour not found`},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte(fmt.Sprintf(base, tt.variants)), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("variants %s: got %v, want an error with %q", tt.variants, err, tt.want)
		}
	}
	// A stopped experiment (100/0) is valid: its history stays.
	if _, err := config.Parse([]byte(fmt.Sprintf(base, `[{name: a, weight: 100}, {name: b, weight: 0}]`)), func(string) string { return "" }); err != nil {
		t.Errorf("100/0: %v", err)
	}
}

func TestVariantStepsAndFieldsAreChecked(t *testing.T) {
	tests := []struct {
		v    config.Variant
		want string
	}{
		{config.Variant{Name: "x", Weight: 1, Steps: []string{"you", "contact"}}, "flows[0].variants[0]: steps: list each of the flow's 5 steps once, got 2"},
		{config.Variant{Name: "x", Weight: 1, Steps: []string{"you", "you", "income", "bank", "review"}}, `"you" is not one of the flow's steps, or is listed twice`},
		{config.Variant{Name: "x", Weight: 1, Steps: []string{"you", "contact", "income", "bank", "done"}}, `"done" is not one of the flow's steps`},
		{config.Variant{Name: "x", Weight: 1, Skip: []string{"email"}}, `skip: field "email" is required or a consent`},
		{config.Variant{Name: "x", Weight: 1, Skip: []string{"shoe_size"}}, `skip: form es has no field "shoe_size"`},
		{config.Variant{Name: "x", Weight: 1, Skip: []string{"car_owner"}}, `field "car_owner" decides whether "car_plate_number" is required`},
	}
	for _, tt := range tests {
		_, err := NewFlows([]config.Flow{{Name: "es", Form: "es", Variants: []config.Variant{tt.v}}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want %q", tt.v, err, tt.want)
		}
	}
}

// Each variant is a copy of the flow as it shows it; the flow itself and
// its form stay as they were.
func TestVariantCopies(t *testing.T) {
	fl, err := NewFlows([]config.Flow{{Name: "es", Form: "es", Variants: twoVariants}})
	if err != nil {
		t.Fatal(err)
	}
	es := fl.ByName("es")
	a, b := es.As("a"), es.As("b")
	if a == es || b == es || es.As("zzz") != es || a.Variant != "a" {
		t.Fatal("As does not give each variant its own copy")
	}
	var keys []string
	for _, s := range b.Steps {
		keys = append(keys, s.Key)
	}
	if strings.Join(keys, ",") != "contact,you,income,bank,review" || !b.OnePage || b.Headline != "form.title" {
		t.Errorf("b: steps %v, one page %v, headline %q", keys, b.OnePage, b.Headline)
	}
	if b.Form.Field("second_last_name") != nil || b.Form.Field("address_line2") != nil || b.Form.Field("email") == nil {
		t.Error("b's form still asks a skipped field, or lost one it asks")
	}
	if es.Form.Field("second_last_name") == nil || a.Form.Field("second_last_name") == nil || a.OnePage || es.Steps[0].Key != "you" {
		t.Error("the flow itself or variant a changed")
	}
	if got := es.VariantNames(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("variant names: got %v", got)
	}
}

// Weights deal new sessions: 3:1 gives 3 of 4, a weight of 0 none.
func TestVariantWeights(t *testing.T) {
	fl, err := NewFlows([]config.Flow{{Name: "es", Form: "es", Variants: []config.Variant{
		{Name: "a", Weight: 3}, {Name: "b", Weight: 1}, {Name: "off", Weight: 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 400 {
		_, name := fl.ByName("es").Assign("")
		got[name]++
	}
	if got["a"] != 300 || got["b"] != 100 || got["off"] != 0 {
		t.Errorf("400 sessions at 3:1:0: got %v", got)
	}
	// A session keeps its variant, even a stopped one.
	if f, name := fl.ByName("es").Assign("off"); name != "off" || f.Variant != "off" {
		t.Errorf("a session of a stopped variant: got %q", name)
	}
}

// The proof of issue 15: 200 fresh sessions (each its own cookie jar)
// through a two-variant flow. Both variants get 40–60 % of them, each
// session sees its own variant on every page, and the funnel counts per
// variant exactly what was sent.
func TestTwoHundredSessionsThroughTwoVariants(t *testing.T) {
	srv, st, visits := variantServer(t)
	ctx := context.Background()
	sent := map[string]*store.FunnelRow{"a": {}, "b": {}}
	for i := range 200 {
		b := newBrowser(t, srv)
		page := b.get("/?utm_source=cashcat.ph&utm_campaign=exp").Body
		variant := shownVariant(t, page)
		b.get("/v.gif")
		sent[variant].Visits++
		for _, path := range []string{"/", "/?utm_source=other&utm_campaign=again"} {
			if got := shownVariant(t, b.get(path).Body); got != variant {
				t.Fatalf("session %d: variant %s on its first page, %s on %s", i, variant, got, path)
			}
		}
		if i%3 != 0 {
			continue
		}
		// One in three applies; the form it posts is its variant's.
		post := with(validES(), hidden(b.get("/").Body))
		if variant == "b" {
			post.Del("second_last_name")
		}
		if w := b.do("POST", "/apply", post); w.Code != 200 && w.Code != 303 {
			t.Fatalf("session %d: apply answered %d", i, w.Code)
		}
		sent[variant].Applications++
	}
	for name, r := range sent {
		if r.Applications == 0 {
			t.Errorf("variant %s: no session applied, the test proves nothing of it", name)
		}
		if r.Visits < 80 || r.Visits > 120 {
			t.Errorf("variant %s got %d of 200 sessions, want 40–60 %%", name, r.Visits)
		}
	}
	decideAll(t, st, sent)
	if sent["a"].Accepted == 0 || sent["b"].Accepted == 0 {
		t.Fatalf("a variant without sales proves nothing of its money: %+v %+v", sent["a"], sent["b"])
	}
	if err := visits.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := st.Funnel(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := sent[r.Variant]
		if want == nil || r.Visits != want.Visits || r.Applications != want.Applications || r.Accepted != want.Accepted || r.Revenue != want.Revenue {
			t.Errorf("funnel of variant %q: got %d visits, %d applications, %d accepted, %.2f revenue; sent %+v",
				r.Variant, r.Visits, r.Applications, r.Accepted, r.Revenue, want)
		}
	}
	if len(rows) != 2 {
		t.Errorf("funnel: got %d lines, want one per variant", len(rows))
	}
	// The dashboard's experiment table says the same, as shown and as CSV.
	r := httptest.NewRequest("GET", "/admin/experiment-es.csv", nil)
	r.SetBasicAuth("admin", "pw")
	w := httptest.NewRecorder()
	newAdmin(t, st, "pw").ServeHTTP(w, r)
	records, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || len(records) != 3 {
		t.Fatalf("experiment csv: %v %v", err, records)
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	for _, rec := range records[1:] {
		want := sent[rec[col["variant"]]]
		got := strings.Join([]string{rec[col["visits"]], rec[col["submits"]], rec[col["accepted"]], rec[col["revenue"]], rec[col["currency"]]}, " ")
		if w := fmt.Sprintf("%d %d %d %.2f EUR", want.Visits, want.Applications, want.Accepted, want.Revenue); got != w {
			t.Errorf("experiment table, variant %s: got %s, want %s (visits, submits, accepted, revenue)", rec[col["variant"]], got, w)
		}
	}
	if v := records[2][col["verdict"]]; records[2][col["variant"]] != "b" || v == "" {
		t.Errorf("variant b's verdict: got %q", v)
	}
}

// variantServer is a counting server whose es flow runs twoVariants.
func variantServer(t *testing.T) (*httptest.Server, *store.Store, *jobs.Visits) {
	t.Helper()
	var visits *jobs.Visits
	h, st := newLimitedServer(t, fakeLeads{}, "10000-M", func(d *Deps) {
		d.Config.RateLimits.Apply = "10000-M"
		d.Config.Flows[0].Variants = twoVariants
		visits = &jobs.Visits{Store: d.Store.(*store.Store)}
		d.Funnel, d.Steps, d.Drafts = visits, visits, d.Store.(*store.Store)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st, visits
}

// shownVariant tells the variant of a form page by what it asks: b does
// not ask for a second last name.
func shownVariant(t *testing.T, page string) string {
	t.Helper()
	if !strings.Contains(page, `name="first_name"`) {
		t.Fatalf("not a form page: %.300s", page)
	}
	if strings.Contains(page, `name="second_last_name"`) {
		return "a"
	}
	return "b"
}

// decideAll accepts two applications in three, at a price by variant,
// and declines the rest, adding to sent what was decided.
func decideAll(t *testing.T, st *store.Store, sent map[string]*store.FunnelRow) {
	t.Helper()
	ctx := context.Background()
	recent, err := st.Recent(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.Claim(ctx, "w", time.Minute, 1000)
	if err != nil || len(ids) != len(recent) {
		t.Fatalf("claimed %d of %d applications: %v", len(ids), len(recent), err)
	}
	for i, rec := range recent {
		v := providers.Verdict{Status: providers.StatusDeclined}
		if i%3 != 1 { // both variants (their applications alternate) get sales
			v = providers.Verdict{Status: providers.StatusAccepted, Buyer: "casheddy", Revenue: map[string]float64{"a": 30, "b": 45}[rec.Attribution.Variant]}
			sent[rec.Attribution.Variant].Accepted++
			sent[rec.Attribution.Variant].Revenue += v.Revenue
		}
		if err := st.Decide(ctx, rec.ID, "w", v); err != nil {
			t.Fatal(err)
		}
	}
}

var _ = form.DefaultSteps

// The seam between drafts and the dashboard: a session's draft saves and
// its pagehide beacon reach the step funnel through the real counter, per
// variant: its first field as started, each step it reached once, and its
// leaving with the last field it touched (names only).
func TestDraftsFeedTheStepFunnel(t *testing.T) {
	srv, st, visits := variantServer(t)
	b := newBrowser(t, srv)
	page := b.get("/?utm_source=cashcat.ph&utm_campaign=steps").Body
	variant := shownVariant(t, page)
	csrf := hidden(page).Get("csrf_token")
	for _, post := range []url.Values{
		{"csrf_token": {csrf}, "step": {"you"}, "field": {"first_name"}, "first_name": {"Ana"}},
		{"csrf_token": {csrf}, "step": {"you"}, "field": {"first_name"}, "first_name": {"Anabel"}},
		{"csrf_token": {csrf}, "step": {"contact"}, "field": {"email"}, "email": {"ana@example.com"}},
	} {
		if w := b.do("POST", "/draft", post); w.Code != 204 {
			t.Fatalf("draft save: %d %s", w.Code, w.Body)
		}
	}
	if w := b.do("POST", "/draft/left", url.Values{"csrf_token": {csrf}, "step": {"contact"}, "field": {"email"}}); w.Code != 204 {
		t.Fatalf("pagehide beacon: %d", w.Code)
	}
	ctx := context.Background()
	if err := visits.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := st.Steps(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		if r.Variant != variant || r.Campaign != "steps" || r.Flow != "es" {
			t.Errorf("counted under %s/%s/%s, want es/steps/%s", r.Flow, r.Campaign, r.Variant, variant)
		}
		got[r.Stage+":"+r.Name] += r.Count
	}
	want := map[string]int64{"started:": 1, "reached:you": 1, "reached:contact": 1, "left:contact": 1, "last_field:email": 1}
	if !maps.Equal(got, want) {
		t.Errorf("step funnel: got %v, want %v", got, want)
	}
}

// A variant's form derives what the consumer left empty as the flow's own
// form does: without JavaScript, "Calle Mayor 5" with no house number is
// a complete address in every variant, the baseline a included.
func TestVariantsDeriveWhatTheConsumerLeftEmpty(t *testing.T) {
	srv, _, _ := variantServer(t)
	seen := map[string]bool{}
	for i := 0; len(seen) < 2 && i < 20; i++ {
		b := newBrowser(t, srv)
		page := b.get("/").Body
		variant := shownVariant(t, page)
		seen[variant] = true
		post := with(validES(), hidden(page))
		post.Set("address_line1", "Calle Mayor 5")
		post.Del("house_number")
		if variant == "b" {
			post.Del("second_last_name")
		}
		if w := b.do("POST", "/apply", post); w.Code != 303 {
			t.Errorf("variant %s: apply with the number in the street line answered %d, want 303", variant, w.Code)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("20 sessions saw only %v", seen)
	}
}

// A form that names another variant of its own flow does not move its
// session there: the application counts for the variant the session was
// dealt (a post naming an arm at weight 0 would otherwise skew the
// experiment).
func TestPostedFlowKeepsTheSessionsVariant(t *testing.T) {
	srv, st, _ := variantServer(t)
	b := newBrowser(t, srv)
	page := b.get("/?utm_source=cashcat.ph&utm_campaign=exp").Body
	dealt := shownVariant(t, page)
	other := map[string]string{"a": "b", "b": "a"}[dealt]
	post := with(validES(), hidden(page))
	if post.Get("flow") != "es/"+dealt {
		t.Fatalf("the page names flow %q, want es/%s", post.Get("flow"), dealt)
	}
	post.Set("flow", "es/"+other)
	post.Del("second_last_name") // what b's form leaves out, valid in a's too
	if w := b.do("POST", "/apply", post); w.Code != 303 {
		t.Fatalf("apply answered %d", w.Code)
	}
	recent, _ := st.Recent(context.Background(), 1)
	if len(recent) != 1 || recent[0].Attribution.Variant != dealt {
		t.Errorf("got %+v, want the application of variant %s", recent, dealt)
	}
}

// The hidden flow of a form may move a session to the flow it names, but
// never into an arm no new session is dealt (stopped at weight 0): a
// draft save or a post naming one gets the variant a link would give.
func TestPostedFlowCannotPlaceTheSessionInAStoppedArm(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{}, "10000-M", func(d *Deps) {
		d.Config.Flows[0].Variants = []config.Variant{{Name: "a", Weight: 1},
			{Name: "off", Weight: 0, Skip: []string{"second_last_name", "address_line2"}}}
		d.Drafts = d.Store.(*store.Store)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	if v := shownVariant(t, b.get("/?flow=es").Body); v != "a" {
		t.Fatalf("dealt %q, want a (the only arm with a weight)", v)
	}
	csrf := hidden(b.get("/?flow=es2").Body).Get("csrf_token")
	if w := b.do("POST", "/draft", draftOf(csrf, "flow", "es/off", "first_name", "Ana", "field", "first_name")); w.Code != 204 {
		t.Fatalf("POST /draft: %d", w.Code)
	}
	if v := shownVariant(t, b.get("/?flow=es").Body); v != "a" {
		t.Errorf("after a draft naming es/off the es form shows variant %q, want a", v)
	}
}

// A link the link builder wrote for a variant since stopped (?variant=off)
// gives new sessions a dealt arm, not the stopped one: "No new session
// gets the stopped variant" (README). A live arm's link still gives it.
func TestStoppedVariantsLinkDealsALiveArm(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{}, "10000-M", func(d *Deps) {
		d.Config.Flows[0].Variants = []config.Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 1, Skip: []string{"second_last_name"}},
			{Name: "off", Weight: 0, Skip: []string{"address_line2"}}}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	shown := func(link string) string {
		page := newBrowser(t, srv).get(link).Body
		switch {
		case !strings.Contains(page, `name="first_name"`):
			t.Fatalf("not a form page: %.300s", page)
		case !strings.Contains(page, `name="address_line2"`):
			return "off"
		case !strings.Contains(page, `name="second_last_name"`):
			return "b"
		}
		return "a"
	}
	for range 4 {
		if v := shown("/?flow=es&variant=off"); v == "off" {
			t.Fatalf("a new session from a stopped variant's link got it")
		}
	}
	for range 4 {
		if v := shown("/?flow=es&variant=b"); v != "b" {
			t.Errorf("a new session from b's link got %q", v)
		}
	}
}

// A session whose form names another flow's stopped arm gets one arm of
// that flow at every save, drawn by the live arms' weights, never the
// stopped one; and asking takes no turn of the deal new sessions get.
func TestPostedStoppedArmIsTheSameAtEverySave(t *testing.T) {
	fl, err := NewFlows([]config.Flow{
		{Name: "es", Form: "es", Variants: []config.Variant{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}, {Name: "off", Weight: 0}}},
		{Name: "es2", Form: "es"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range 4000 {
		var first string
		for range 3 {
			sess := session.Session{ID: fmt.Sprintf("session-%d", i), Flow: "es2"}
			v := fl.Posted(&sess, "es/off").Variant
			if first == "" {
				first = v
			}
			if v != first || sess.Attribution.Variant != v || sess.Flow != "es" {
				t.Fatalf("session %d: %q then %q (session %q in %q)", i, first, v, sess.Attribution.Variant, sess.Flow)
			}
		}
		got[first]++
	}
	if got["off"] != 0 || got["a"] < 2800 || got["a"] > 3200 || got["a"]+got["b"] != 4000 {
		t.Errorf("4,000 sessions naming es/off got %v, want a and b about 3:1 and never off", got)
	}
	// The deal of new sessions is where it was: a, a, b, a for 3:1.
	es := fl.ByName("es")
	var dealt []string
	for range 4 {
		_, v := es.Assign("")
		dealt = append(dealt, v)
	}
	if strings.Join(dealt, " ") != "a a b a" {
		t.Errorf("new sessions dealt %v after the posts, want a a b a", dealt)
	}
}

// The step funnel of a variant lists its steps in the variant's order
// (b's contact comes first): in the flow's, b's stages read "contact 200 %
// moved on". Without a variant chosen, the flow's own order.
func TestStepFunnelInTheVariantsOrder(t *testing.T) {
	fl, err := NewFlows([]config.Flow{{Name: "es", Form: "es", Variants: twoVariants}})
	if err != nil {
		t.Fatal(err)
	}
	db := &dashboard{flows: fl}
	reached := map[string]int64{"contact": 4, "you": 2}
	if got := db.stepKeys("es", "b", reached); !slices.Equal(got, []string{"contact", "you", "income", "bank", "review"}) {
		t.Errorf("variant b: %v, want b's order", got)
	}
	if got := db.stepKeys("es", "", reached); !slices.Equal(got, []string{"you", "contact", "income", "bank", "review"}) {
		t.Errorf("the flow: %v, want its own order", got)
	}
}
