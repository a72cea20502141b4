package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
)

// TestSealedPartMovesApart upgrades a store written before migration 11
// (the sealed part in the application's row) with an application that
// has its sealed part and one erased, and reads them as before, and one
// that a replica of the earlier version stores after the upgrade; then
// migrates back down and finds the ciphertext in the row again.
func TestSealedPartMovesApart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
		if err != nil {
			t.Fatal(err)
		}
		testSealedPartMovesApart(t, db, goose.DialectSQLite3, "sqlite://"+path)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.FreshSchema(t, storetest.PostgresForTest(t))
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		testSealedPartMovesApart(t, db, goose.DialectPostgres, dsn)
	})
}

func testSealedPartMovesApart(t *testing.T, db *sql.DB, dialect goose.Dialect, dsn string) {
	ctx := context.Background()
	keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
	p, err := goose.NewProvider(dialect, db, mustSub(migrations, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	old := &Store{db: db, pg: dialect == goose.DialectPostgres}
	plain, _ := json.Marshal(Sealed{Submission: newApp("kept", "k1").Submission})
	keyID, ct := keys.Seal(plain, []byte("kept"))
	for _, row := range []struct {
		id     string
		keyID  string
		sealed []byte
		erased int64
	}{{"kept", keyID, ct, 0}, {"erased", "", nil, 1}} {
		if _, err := db.ExecContext(ctx, old.q(`INSERT INTO applications (id, session_hash, idempotency_key, flow, form, currency, status,
			created_at, updated_at, deadline_at, next_run_at, decided_at, key_id, pii, erased_at)
			VALUES (?, 's', ?, 'es', 'es', 'EUR', 'accepted', 1, 1, 1, 1, 1, ?, ?, ?)`), row.id, row.id, row.keyID, row.sealed, row.erased); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, dsn, keys)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Sealed(ctx, "kept")
	if err != nil || rec.Submission.Application.NationalID != "60604016M" {
		t.Errorf("after the upgrade: got %q, %v", rec.Submission.Application.FirstName, err)
	}
	if _, err := s.Sealed(ctx, "erased"); !errors.Is(err, ErrNotFound) {
		t.Errorf("erased before the upgrade: got %v, want ErrNotFound", err)
	}
	if _, err := s.Sealed(ctx, "never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such application: got %v, want ErrNotFound", err)
	}
	if app, err := s.Get(ctx, "kept"); err != nil || app.Status != providers.StatusAccepted {
		t.Errorf("the application's row after the upgrade: %+v, %v", app, err)
	}
	// A replica of the earlier version, still running during a rolling
	// upgrade, stores its applications' sealed part in the row: read too.
	plain, _ = json.Marshal(Sealed{Submission: newApp("older", "k3").Submission})
	olderKey, olderCT := keys.Seal(plain, []byte("older"))
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO applications (id, session_hash, idempotency_key, flow, form, currency, status,
		created_at, updated_at, deadline_at, next_run_at, key_id, pii)
		VALUES ('older', 's', 'older', 'es', 'es', 'EUR', 'pending', 1, 1, 1, 1, ?, ?)`), olderKey, olderCT); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Sealed(ctx, "older"); err != nil || rec.Submission.Application.NationalID != "60604016M" {
		t.Errorf("stored by an earlier version after the upgrade: got %q, %v", rec.Submission.Application.FirstName, err)
	}

	down, err := goose.NewProvider(dialect, s.db, mustSub(migrations, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var back []byte
	var backID string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT key_id, pii FROM applications WHERE id = ?`), "kept").Scan(&backID, &back); err != nil ||
		backID != keyID || !bytes.Equal(back, ct) {
		t.Errorf("after migrating down: key %q, %d bytes (%v); want the ciphertext back in the row", backID, len(back), err)
	}
	s.Close()
}
