package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/providers"
)

// The step counter's counts reach the store on the flush, by variant and
// stage, with the last fields of those who left; a second replica adds to
// the same lines, and a leave taken back on the other replica (the
// session came back and sent) adds up to none.
func TestStepsAreCountedAndFlushed(t *testing.T) {
	st := storetest.SQLite(t, store.Open)
	ctx := context.Background()
	a := providers.Attribution{Source: "cashcat.ph", Campaign: "spring", Variant: "b"}
	r1, r2 := &Visits{Store: st, Log: quiet}, &Visits{Store: st, Log: quiet}
	for range 3 {
		r1.Started("us", a)
		r1.Reached("us", a, "you")
	}
	r1.Reached("us", a, "contact")
	r1.Left(r1.LeftLine("us", a, "contact", "email"))
	r2.Started("us", a)
	r2.Left(r2.LeftLine("us", a, "you", ""))
	// A session that left on the bank step, from the first replica, came
	// back to send through the second: its leave is taken back there.
	back := r1.LeftLine("us", a, "bank", "iban")
	r1.Left(back)
	r2.Returned(back)
	r2.Returned("day=&step=bank") // not a line LeftLine wrote: nothing
	r2.Returned("%zz")
	r2.Started("us", providers.Attribution{Source: "cashcat.ph", Campaign: "spring", Variant: "a"})
	for _, r := range []*Visits{r1, r2} {
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := st.Steps(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[fmt.Sprintf("%s/%s/%s/%s/%s/%s", r.Flow, r.Source, r.Campaign, r.Variant, r.Stage, r.Name)] = r.Count
	}
	want := map[string]int64{
		"us/cashcat.ph/spring/b/started/":         4,
		"us/cashcat.ph/spring/b/reached/you":      3,
		"us/cashcat.ph/spring/b/reached/contact":  1,
		"us/cashcat.ph/spring/b/left/contact":     1,
		"us/cashcat.ph/spring/b/last_field/email": 1,
		"us/cashcat.ph/spring/b/left/you":         1,
		"us/cashcat.ph/spring/a/started/":         1,
		"us/cashcat.ph/spring/b/left/bank":        0,
		"us/cashcat.ph/spring/b/last_field/iban":  0,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("step funnel:\n got %v\nwant %v", got, want)
	}
}
