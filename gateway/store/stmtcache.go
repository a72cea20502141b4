package store

import (
	"context"
	"database/sql/driver"
	"errors"
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

// stmtConnector makes SQLite connections that keep their statements.
type stmtConnector struct{ driver.Connector }

func (c stmtConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
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
	cs, cached, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if !cached {
		defer cs.stmt.Close()
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext implements driver.QueryerContext.
func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
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
	return &stmtRows{Rows: rows, cs: cs, cached: cached}, nil
}

// stmtRows frees its statement for the next use when closed.
type stmtRows struct {
	driver.Rows
	cs     *cachedStmt
	cached bool
}

func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	if !r.cached {
		err = errors.Join(err, r.cs.stmt.Close())
	}
	return err
}

func (c *stmtConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.sqlite().PrepareContext(ctx, query)
}
func (c *stmtConn) Begin() (driver.Tx, error) {
	return c.sqlite().BeginTx(context.Background(), driver.TxOptions{})
}
func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.sqlite().BeginTx(ctx, opts)
}
func (c *stmtConn) Ping(ctx context.Context) error         { return c.sqlite().Ping(ctx) }
func (c *stmtConn) ResetSession(ctx context.Context) error { return c.sqlite().ResetSession(ctx) }
func (c *stmtConn) IsValid() bool                          { return c.sqlite().IsValid() }

// Close finalizes the statements, then closes the connection.
func (c *stmtConn) Close() error {
	var errs []error
	for _, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.conn.Close())...)
}
