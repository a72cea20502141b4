package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// sessionSpace is the first key of leadgate's advisory locks ("lg"), so
// that they never meet another program's in the same database.
const sessionSpace = 0x6c67

// sessionCheck is how often a replica checks its session is still there,
// and tries to take it back when it is not.
const sessionCheck = 500 * time.Millisecond

// session ties a PostgreSQL replica's leases to its life: the replica
// holds an advisory lock (sessionSpace, key) on a connection of its own
// while it runs, and writes key with every lease it takes. The server
// drops the lock the moment that connection ends, a SIGKILL included, so
// other replicas see at their next claim that the lease's holder is gone,
// without waiting for the lease to run out.
//
// Session locks are taken only under (sessionSpace, 0) held exclusively,
// and every claim holds it shared (Store.claim): so no session begins
// while a claim runs, and a claim never takes a lease from a replica
// whose session began after the claim read the live ones.
type session struct {
	key  int64
	stop context.CancelFunc
	done chan struct{}
}

// openSession connects and takes a fresh key.
func openSession(ctx context.Context, cfg *pgx.ConnConfig) (*session, error) {
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connecting to postgres: %w", err)
	}
	for range 10 {
		key := 1 + rand.Int64N(math.MaxInt32) // an int4 key; 0 is the claims' lock
		got, err := lockSession(ctx, conn, key)
		if err != nil {
			conn.Close(context.Background())
			return nil, fmt.Errorf("store: taking the replica's session lock: %w", err)
		}
		if got {
			kctx, stop := context.WithCancel(context.Background())
			s := &session{key: key, stop: stop, done: make(chan struct{})}
			go s.keep(kctx, cfg, conn)
			return s, nil
		}
	}
	conn.Close(context.Background())
	return nil, fmt.Errorf("store: no free session lock key")
}

// lockSession tries to take the session lock key on conn.
func lockSession(ctx context.Context, conn *pgx.Conn, key int64) (bool, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, sessionSpace); err != nil {
		return false, err
	}
	// A session lock outlives the transaction it was taken in.
	var got bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, sessionSpace, key).Scan(&got); err != nil {
		return false, err
	}
	return got, tx.Commit(ctx)
}

// keep checks the connection and, when it is lost (a database restart, a
// proxy cutting it), connects again and takes the same key back. Until
// then this replica's leases can be taken over, and it neither claims nor
// posts (claim and underLease check its lock is held). A connection the
// server has not yet seen die may still hold the key for a while: it
// keeps the leases alive meanwhile, and the key is taken once it goes.
func (s *session) keep(ctx context.Context, cfg *pgx.ConnConfig, conn *pgx.Conn) {
	defer close(s.done)
	held := true
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	t := time.NewTicker(sessionCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		if conn == nil {
			if conn, err = connect(ctx, cfg); err != nil {
				continue
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*sessionCheck)
		if held {
			err = conn.Ping(cctx)
		} else {
			held, err = lockSession(cctx, conn, s.key)
		}
		cancel()
		if err != nil {
			conn.Close(context.Background())
			conn, held = nil, false
		}
	}
}

func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// close ends the session: the lock goes with the connection.
func (s *session) close() {
	s.stop()
	<-s.done
}

// sessionAlive is a PostgreSQL condition: the session lock with the key
// expr is held. pg_locks is read live, not from the statement's snapshot.
func sessionAlive(expr string) string {
	return `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid = ` + fmt.Sprint(sessionSpace) + ` AND objsubid = 2 AND objid::bigint = ` + expr + `
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`
}
