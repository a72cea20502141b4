// Package storetest opens stores for tests: a fresh SQLite store, or the
// PostgreSQL that tests run against with an empty schema for each test.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadgate/leadgate/gateway/testenv"
	"github.com/leadgate/leadgate/gateway/vault"
)

// SQLite opens a fresh store in a file of the test's own temporary folder,
// sealed with a fixed test key, and closes it when the test ends:
//
//	s := storetest.SQLite(t, store.Open)
//
// open is store.Open, taken as a value because the store's own tests
// import this package, which therefore cannot import the store.
func SQLite[S io.Closer](t testing.TB, open func(ctx context.Context, dsn string, keys *vault.Keyring) (S, error)) S {
	t.Helper()
	keys, err := vault.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "t.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// DefaultTestPostgres is where tests look for PostgreSQL unless
// LEADGATE_TEST_POSTGRES says otherwise.
const DefaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresForTest returns the DSN of a reachable PostgreSQL for a test.
// Without one, the test is skipped locally with what is missing, and fails
// under CI (testenv.CI): there a missing service is an error, never a skip.
func PostgresForTest(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("LEADGATE_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultTestPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := "PostgreSQL is not reachable (" + redact(dsn) + "): start it, or set LEADGATE_TEST_POSTGRES"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// FreshSchema creates an empty schema for one test and returns dsn with it
// as the search path; the schema is dropped when the test ends.
func FreshSchema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "lgtest_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "an unreadable dsn"
	}
	return u.Redacted()
}
