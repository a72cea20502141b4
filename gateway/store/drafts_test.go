package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"
)

// draftSuite runs on every backend with the rest of the store's suite.
var draftSuite = []struct {
	name string
	fn   func(*testing.T, opener)
}{
	{"DraftSavedAndRead", testDraftSavedAndRead},
	{"DraftNoPersonalDataAtRest", testDraftNoPersonalDataAtRest},
	{"DraftBoundToItsRow", testDraftBoundToItsRow},
	{"DraftExpiresAfterItsTTL", testDraftExpiresAfterItsTTL},
	{"DraftErasedWhenApplicationStored", testDraftErasedWhenApplicationStored},
	{"DraftLeftOnce", testDraftLeftOnce},
	{"DraftLeaveTakenBackWhenSent", testDraftLeaveTakenBackWhenSent},
}

var typed = map[string]string{"first_name": "Kyle", "national_id": "60604016M", "iban": "ES5020803294338752239563", "email": "kyle@blendit.eu"}

func testDraftSavedAndRead(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	if _, err := s.Draft(ctx, "sess-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a session without a draft: got %v, want ErrNotFound", err)
	}
	saves := []struct {
		ch   DraftChange
		want Draft // the signals before this save
	}{
		{DraftChange{Flow: "es", Values: map[string]string{"first_name": "Ky"}, Step: "you", Field: "first_name"}, Draft{}},
		{DraftChange{Flow: "es", Values: typed, Step: "you", Field: "national_id"},
			Draft{Flow: "es", Step: "you", Steps: []string{"you"}, LastField: "first_name", Started: true}},
		{DraftChange{Flow: "es", Step: "contact"},
			Draft{Flow: "es", Step: "you", Steps: []string{"you"}, LastField: "national_id", Started: true}},
	}
	for i, sv := range saves {
		before, err := s.SaveDraft(ctx, "sess-a", sv.ch)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			sv.want.Flow = "es" // a new row is the flow's from the start
		}
		if !reflect.DeepEqual(before, sv.want) {
			t.Errorf("save %d: got before %+v, want %+v", i, before, sv.want)
		}
	}
	d, err := s.Draft(ctx, "sess-a")
	if err != nil {
		t.Fatal(err)
	}
	// The step-only save kept the values of the one before.
	if !reflect.DeepEqual(d.Values, typed) || d.Step != "contact" || !reflect.DeepEqual(d.Steps, []string{"you", "contact"}) ||
		d.LastField != "national_id" || !d.Started || d.Left || d.UpdatedAt.IsZero() {
		t.Errorf("got %+v, want the typed values, on step contact after you, last field national_id", d)
	}
	if _, err := s.Draft(ctx, "sess-b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another session read a draft: %v", err)
	}
	// Another flow for the same session: its funnel starts afresh.
	before, err := s.SaveDraft(ctx, "sess-a", DraftChange{Flow: "us", Values: map[string]string{"ssn": "876-54-3210"}, Field: "ssn"})
	if err != nil || before.Started || len(before.Steps) != 0 {
		t.Errorf("a save in another flow: got before %+v, %v; want nothing of that flow", before, err)
	}
}

func testDraftNoPersonalDataAtRest(t *testing.T, open opener) {
	s, path := open(t)
	ctx := context.Background()
	for _, key := range []string{"sess-a", "sess-b"} {
		if _, err := s.SaveDraft(ctx, key, DraftChange{Flow: "es", Values: typed, Step: "bank", Field: "iban"}); err != nil {
			t.Fatal(err)
		}
	}
	var all []byte
	if path == "" {
		all = dumpPostgres(t, s.db)
	}
	s.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if path != "" {
			b, _ := os.ReadFile(path + suffix)
			all = append(all, b...)
		}
	}
	for _, v := range typed {
		if bytes.Contains(all, []byte(v)) {
			t.Errorf("%q is in the database in clear", v)
		}
	}
	if !bytes.Contains(all, []byte("sess-b")) || !bytes.Contains(all, []byte("iban")) {
		t.Error("the draft's row is not in what was read: the check above reads the wrong thing")
	}
}

// A draft's sealed values copied into another session's row do not open
// there: the seal is bound to its row.
func testDraftBoundToItsRow(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.SaveDraft(ctx, "victim", DraftChange{Flow: "es", Values: typed, Field: "iban"})
	s.SaveDraft(ctx, "attacker", DraftChange{Flow: "es", Values: map[string]string{"first_name": "Eve"}, Field: "first_name"})
	if _, err := s.db.Exec(s.q(`UPDATE drafts SET pii = (SELECT pii FROM drafts WHERE session_hash = ?), key_id = (SELECT key_id FROM drafts WHERE session_hash = ?)
		WHERE session_hash = ?`), "victim", "victim", "attacker"); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Draft(ctx, "attacker"); err == nil {
		t.Errorf("another row's values opened: got %v", d.Values)
	}
	if d, err := s.Draft(ctx, "victim"); err != nil || d.Values["iban"] != typed["iban"] {
		t.Errorf("the draft's own row: got %v, %v", d.Values, err)
	}
}

func testDraftExpiresAfterItsTTL(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	start := time.Now()
	s.now = func() time.Time { return start.Add(-25 * time.Hour) }
	s.SaveDraft(ctx, "old", DraftChange{Flow: "es", Values: typed, Field: "iban"})
	s.now = func() time.Time { return start.Add(-time.Hour) }
	s.SaveDraft(ctx, "recent", DraftChange{Flow: "es", Values: typed, Field: "iban"})
	s.now = time.Now
	n, err := s.EraseDrafts(ctx, start.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("erased %d drafts (%v), want the one saved 25 hours ago", n, err)
	}
	if _, err := s.Draft(ctx, "old"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the expired draft: got %v, want ErrNotFound", err)
	}
	if _, err := s.Draft(ctx, "recent"); err != nil {
		t.Errorf("the recent draft: %v", err)
	}
	var left int
	s.db.QueryRow(s.q(`SELECT COUNT(*) FROM drafts WHERE session_hash = ?`), "old").Scan(&left)
	if left != 0 {
		t.Errorf("the expired draft's row is still there")
	}
}

// Storing the session's application erases its draft's values, and a save
// or a beacon still in flight neither brings them back nor counts.
func testDraftErasedWhenApplicationStored(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.SaveDraft(ctx, "sess", DraftChange{Flow: "es", Values: typed, Step: "review", Field: "iban"})
	n := newApp("app-1", "k1")
	n.DraftKey = "sess"
	if _, _, err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Draft(ctx, "sess"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the draft after its application was stored: got %v, want ErrNotFound", err)
	}
	var ct []byte
	if err := s.db.QueryRow(s.q(`SELECT pii FROM drafts WHERE session_hash = ?`), "sess").Scan(&ct); err != nil || len(ct) != 0 {
		t.Errorf("the draft's sealed values: got %d bytes (%v), want none", len(ct), err)
	}
	if _, err := s.SaveDraft(ctx, "sess", DraftChange{Flow: "es", Values: typed, Field: "iban"}); !errors.Is(err, ErrDraftClosed) {
		t.Errorf("a late save: got %v, want ErrDraftClosed", err)
	}
	if _, first, err := s.MarkLeft(ctx, "sess", "es", "line"); first || err != nil {
		t.Errorf("a beacon after sending: got first=%v, %v; want not counted", first, err)
	}
	// An application of a session that never saved a draft closes one all
	// the same: a first save in flight finds it closed.
	n = newApp("app-2", "k2")
	n.DraftKey = "quick"
	s.Create(ctx, n)
	if _, err := s.SaveDraft(ctx, "quick", DraftChange{Flow: "es", Values: typed, Field: "iban"}); !errors.Is(err, ErrDraftClosed) {
		t.Errorf("a first save after sending: got %v, want ErrDraftClosed", err)
	}
}

func testDraftLeftOnce(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	if _, first, _ := s.MarkLeft(ctx, "nobody", "us", "line"); first {
		t.Error("a session without a draft left")
	}
	s.SaveDraft(ctx, "sess", DraftChange{Flow: "us", Step: "contact", Field: "email"})
	flow, first, err := s.MarkLeft(ctx, "sess", "es", "line")
	if err != nil || !first || flow != "us" {
		t.Errorf("first leave: got %q, %v, %v; want us, first", flow, first, err)
	}
	if _, first, _ := s.MarkLeft(ctx, "sess", "es", "line"); first {
		t.Error("the second leave counted again")
	}
	// A save after coming back keeps the mark: a session leaves once.
	before, _ := s.SaveDraft(ctx, "sess", DraftChange{Flow: "us", Field: "city"})
	if d, _ := s.Draft(ctx, "sess"); !before.Left || !d.Left {
		t.Errorf("got left %v then %v, want the mark kept", before.Left, d.Left)
	}
	// Once in each flow it is in: moved to another flow (another tab),
	// it may leave that one; back in the first, it has left it already.
	for i, step := range []struct {
		flow      string
		wantFirst bool
	}{{"us2", true}, {"us", false}, {"us2", false}} {
		if _, err := s.SaveDraft(ctx, "sess", DraftChange{Flow: step.flow, Field: "email"}); err != nil {
			t.Fatal(err)
		}
		flow, first, err := s.MarkLeft(ctx, "sess", "es", "line")
		if err != nil || first != step.wantFirst || (first && flow != step.flow) {
			t.Errorf("move %d, to %s: left %q, first %v, %v; want first %v", i, step.flow, flow, first, err, step.wantFirst)
		}
	}
}

// A session that left its form and came back to send it has its leave
// handed back, once, with the line it was counted on, when its
// application is stored; one that never left, or left another flow's
// form, has none; a repeat of the same application hands nothing again.
func testDraftLeaveTakenBackWhenSent(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	var back []string
	returned := func(line string) { back = append(back, line) }
	send := func(id, key, session string) {
		t.Helper()
		n := newApp(id, key)
		n.DraftKey, n.Returned = session, returned
		if _, _, err := s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	s.SaveDraft(ctx, "left", DraftChange{Flow: "us", Step: "bank", Field: "bank_name"})
	if _, first, err := s.MarkLeft(ctx, "left", "us", "us bank bank_name"); !first || err != nil {
		t.Fatalf("the leave: first %v, %v", first, err)
	}
	s.SaveDraft(ctx, "left", DraftChange{Flow: "us", Field: "bank_account_number"}) // back
	send("app-1", "k1", "left")
	send("app-1", "k1", "left") // the double click
	s.SaveDraft(ctx, "stayed", DraftChange{Flow: "us", Step: "bank", Field: "bank_name"})
	send("app-2", "k2", "stayed")
	s.SaveDraft(ctx, "other", DraftChange{Flow: "us2", Step: "bank", Field: "bank_name"})
	s.MarkLeft(ctx, "other", "us", "us bank bank_name") // counted nowhere: the draft is us2's
	send("app-3", "k3", "other")
	if fmt.Sprint(back) != "[us bank bank_name]" {
		t.Errorf("leaves handed back: %q, want the first session's, once", back)
	}
}
