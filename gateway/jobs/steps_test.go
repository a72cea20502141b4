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
// the same lines.
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
	r1.Left("us", a, "contact", "email")
	r2.Started("us", a)
	r2.Left("us", a, "you", "")
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
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("step funnel:\n got %v\nwant %v", got, want)
	}
}
