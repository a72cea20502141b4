package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
)

// SQLite connections keep their prepared statements. Without this every
// query is parsed and planned again on each call (modernc's ExecContext
// prepares and finalizes a statement per call): a quarter of the CPU an
// application cost under load went to SQLite's parser. The queries are a
// fixed set of strings, so each connection prepares each one once.
// PostgreSQL needs none of it: pgx caches its statements itself.

// maxStatements bounds each connection's cache: the store's queries are
// a few dozen fixed strings; past the bound a query is prepared per call,
// as before.
const maxStatements = 256

// SQLite connections also take their turn to write here, not in SQLite.
// A writer that finds the file's write lock taken sleeps in SQLite's busy
// handler (1, 2, 5, 10 … 100 ms) and tries again, while later writers
// barge in: under load the unlucky ones waited hundreds of milliseconds
// (p99 360 ms in the load test) with the lock free most of that time.
// Writers of one store now queue on a channel, served in order, and reach
// SQLite when the lock is theirs; readers never wait (WAL). The file has
// one owner process (owner.go), so nothing else contends for it.

// writeTurn is a store's queue of writers: one at a time, in order of
// arrival (a channel's blocked senders are served first in, first out).
type writeTurn chan struct{}

func (w writeTurn) take(ctx context.Context) error {
	select {
	case w <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w writeTurn) give() { <-w }

// stmtConnector makes SQLite connections that keep their statements and
// take their turn to write.
type stmtConnector struct {
	driver.Connector
	turn writeTurn
}

func (c stmtConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtConn{conn: conn, stmts: map[string]*cachedStmt{}, turn: c.turn}, nil
}

// sqliteConn is what modernc's connection offers and database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtConn is one connection and its prepared statements. database/sql
// uses a connection from one goroutine at a time: no lock is needed.
type stmtConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
	turn  writeTurn
	// inTx: a transaction is open, holding the turn (every transaction
	// of the store begins IMMEDIATE, as a writer).
	inTx bool
}

type cachedStmt struct {
	stmt driver.Stmt
	// busy: rows of this statement are still open; the same query asked
	// meanwhile (a nested read) gets a statement of its own.
	busy bool
}

// stmt is the connection's statement for query, and whether it came from
// the cache (a statement not cached is closed by its user).
func (c *stmtConn) stmt(ctx context.Context, query string) (*cachedStmt, bool, error) {
	if cs, ok := c.stmts[query]; ok && !cs.busy {
		return cs, true, nil
	}
	st, err := c.sqlite().PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	cs := &cachedStmt{stmt: st}
	if _, taken := c.stmts[query]; taken || len(c.stmts) >= maxStatements {
		return cs, false, nil
	}
	c.stmts[query] = cs
	return cs, true, nil
}

func (c *stmtConn) sqlite() sqliteConn { return c.conn.(sqliteConn) }

// ExecContext implements driver.ExecerContext.
func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if !c.inTx {
		if err := c.turn.take(ctx); err != nil {
			return nil, err
		}
		defer c.turn.give()
	}
	cs, cached, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if !cached {
		defer cs.stmt.Close()
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext implements driver.QueryerContext. A query that writes
// (UPDATE … RETURNING: the claims) holds the turn until its rows close.
func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	var give func()
	if !c.inTx && writes(query) {
		if err := c.turn.take(ctx); err != nil {
			return nil, err
		}
		give = c.turn.give
	}
	rows, err := c.query(ctx, query, args, give)
	if err != nil && give != nil {
		give()
	}
	return rows, err
}

func (c *stmtConn) query(ctx context.Context, query string, args []driver.NamedValue, give func()) (driver.Rows, error) {
	cs, cached, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if !cached {
			cs.stmt.Close()
		}
		return nil, err
	}
	cs.busy = true
	return &stmtRows{Rows: rows, cs: cs, cached: cached, give: give}, nil
}

// writes says whether a query run through Query changes the database.
func writes(query string) bool {
	q := strings.ToUpper(strings.TrimSpace(query))
	for _, verb := range []string{"UPDATE", "INSERT", "DELETE", "REPLACE", "WITH"} {
		if strings.HasPrefix(q, verb) {
			return true
		}
	}
	return false
}

// stmtRows frees its statement for the next use when closed, and gives
// back the turn of a query that wrote.
type stmtRows struct {
	driver.Rows
	cs     *cachedStmt
	cached bool
	give   func()
}

func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	if !r.cached {
		err = errors.Join(err, r.cs.stmt.Close())
	}
	if r.give != nil {
		r.give()
		r.give = nil
	}
	return err
}

func (c *stmtConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.sqlite().PrepareContext(ctx, query)
}
func (c *stmtConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx begins a transaction once it is this connection's turn; the
// turn is given back when the transaction ends.
func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.turn.take(ctx); err != nil {
		return nil, err
	}
	tx, err := c.sqlite().BeginTx(ctx, opts)
	if err != nil {
		c.turn.give()
		return nil, err
	}
	c.inTx = true
	return &turnTx{Tx: tx, c: c}, nil
}

// turnTx gives the turn back when it ends, however it ends.
type turnTx struct {
	driver.Tx
	c *stmtConn
}

func (t *turnTx) Commit() error   { defer t.end(); return t.Tx.Commit() }
func (t *turnTx) Rollback() error { defer t.end(); return t.Tx.Rollback() }

func (t *turnTx) end() {
	if t.c.inTx {
		t.c.inTx = false
		t.c.turn.give()
	}
}
func (c *stmtConn) Ping(ctx context.Context) error         { return c.sqlite().Ping(ctx) }
func (c *stmtConn) ResetSession(ctx context.Context) error { return c.sqlite().ResetSession(ctx) }
func (c *stmtConn) IsValid() bool                          { return c.sqlite().IsValid() }

// Close finalizes the statements, then closes the connection (and gives
// back the turn of a transaction it closes).
func (c *stmtConn) Close() error {
	if c.inTx {
		c.inTx = false
		c.turn.give()
	}
	var errs []error
	for _, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.conn.Close())...)
}
