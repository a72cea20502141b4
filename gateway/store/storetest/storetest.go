// Package storetest finds the PostgreSQL that tests run against and gives
// each test an empty schema of its own.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadgate/leadgate/gateway/testenv"
)

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
