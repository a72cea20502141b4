package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit (SQLite).
//
// A SQLite file has one writer at a time. With one transaction per
// application, 64 consumers submitting at once queued on SQLite's write
// lock, each waking from its busy handler's sleeps to try again, and each
// paying its own BEGIN and COMMIT and its own WAL frames for the same few
// pages. Here one goroutine makes the writes of the application's path:
// every new application, claim, attempt, decision and redirect, and the
// CRM mirror's and the postbacks' records of their work. It takes what is
// waiting, writes it all in one transaction, commits, and only then
// answers each caller. (The rarer writes, drafts, funnel counts, erasure,
// run in their own transactions, taking their turn: stmtcache.go.) Nothing waits for a timer: while one batch
// commits the next one gathers, so a lone submission is written at once
// and a burst is written in a few transactions.
//
// Durability is the same as one transaction each: Create returns only
// after the transaction holding its application is committed, so the 303
// that follows still means the application is in the database file's
// WAL, and a kill -9 at any moment loses nothing that was answered.
// Each write is made under its own savepoint: one that fails (a
// constraint, a bad value, a lease lost) is rolled back alone and its
// caller alone gets the error; the others commit.
//
// PostgreSQL keeps one transaction per application: its writers do not
// exclude each other, and its WAL already flushes the commits of
// concurrent sessions together; funnelling every replica's submissions
// through one connection would serialise what PostgreSQL runs in
// parallel.

// maxBatch bounds a batch: a caller never waits behind more than this
// many others' writes.
const maxBatch = 128

// writeJob is one write waiting for the writer: write runs in the
// batch's transaction, under the job's own savepoint.
type writeJob struct {
	write func(ctx context.Context, tx *sql.Tx) error
	// err is the result, set before done is closed.
	err  error
	done chan struct{}
}

// committer is the one writer of the writes a consumer waits for.
type committer struct {
	s    *Store
	jobs chan *writeJob
	quit chan struct{}
	// stopped is closed once the writer has answered its last job.
	stopped chan struct{}
	once    sync.Once
	// commits counts the transactions committed, for tests and metrics.
	commits atomic.Int64
	// committed tells the checkpointer there are frames in the WAL to
	// copy back; checkpoints counts its runs.
	committed   chan struct{}
	checkpoints atomic.Int64
	ckptDone    chan struct{}
	// restart asks the writer to restart the WAL between two batches
	// (restartWAL), once it holds restartAt frames; restarts counts the
	// restarts made.
	restart   chan struct{}
	restartAt int
	restarts  atomic.Int64
	// tries counts the RESTART checkpoints run, made or not; after one
	// not made, the next waits until the WAL holds retryAt frames.
	tries   atomic.Int64
	retryAt atomic.Int64
	// ckpt is held by whoever checkpoints: SQLite fails a second
	// checkpoint at once while one runs.
	ckpt sync.Mutex
	// every is the checkpointer's pause (checkpointEvery; shorter in tests).
	every time.Duration
}

func newCommitter(s *Store) *committer {
	c := &committer{s: s, jobs: make(chan *writeJob, maxBatch), quit: make(chan struct{}), stopped: make(chan struct{}),
		committed: make(chan struct{}, 1), ckptDone: make(chan struct{}),
		restart: make(chan struct{}, 1), restartAt: walRestartFrames, every: checkpointEvery}
	go c.run()
	go c.checkpointer()
	return c
}

// checkpointEvery is the most often the WAL is copied back to the file.
// A checkpoint holds the one core of a loaded server for as long as it
// copies (Go hands it the core in slices of up to 10 ms), and the
// consumers' writes wait behind it: at 100 ms a run copied for 12-18 ms
// (p50); at 50 ms the POST's p90 in the load test's open loop went from
// 7-14 ms to 4.4-6.1 ms, for 3 % of the closed loop's throughput (pages
// written again between two checkpoints are copied twice).
const checkpointEvery = 50 * time.Millisecond

// walRestartFrames is how long the WAL may grow (frames of a 4 KiB page:
// 32 MiB) before the writer restarts it (restartWAL): at 2,000
// applications a second (21 pages of WAL each) about five times a second,
// each restart holding the writer for 12-20 ms. walSizeLimit is what the
// file is cut back to after a restart (journal_size_limit): twice that,
// so that a file about the restart length is not cut and grown again on
// every restart.
const (
	walRestartFrames = 8192
	walSizeLimit     = 2 * walRestartFrames * 4096
)

// restartWait bounds how long a restart waits for readers that started
// before it, the writer's batches waiting with it; past it the restart
// gives up and the WAL keeps growing until the next try.
const restartWait = 20 * time.Millisecond

// checkpointer copies the WAL back into the database file beside the
// writer. SQLite's own automatic checkpoint runs inside the COMMIT that
// crosses 1,000 pages of WAL, and its fsyncs held every waiting write (and
// every consumer behind it) for tens of milliseconds: the open loop's p99.
// A passive checkpoint waits for no reader and no writer. It cannot start
// the WAL over: past walRestartFrames it asks the writer to (restartWAL).
func (c *committer) checkpointer() {
	defer close(c.ckptDone)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-c.committed:
		}
		// Under the lock: a restart between the checkpoint and the
		// comparison would set retryAt past the frames counted here.
		c.ckpt.Lock()
		frames, err := c.checkpoint()
		if err == nil {
			c.checkpoints.Add(1)
			switch retry := int(c.retryAt.Load()); {
			case frames >= max(c.restartAt, retry):
				c.askRestart()
			case retry > 0 && frames >= 0 && frames < retry-c.restartAt:
				c.retryAt.Store(0) // started over on its own since
			}
		}
		c.ckpt.Unlock()
		t.Reset(c.every)
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
	}
}

// write hands j to the writer and waits for its commit. The wait ignores
// the caller's context: once queued, the write is made or not with the
// rest of its batch, and the caller learns which.
func (c *committer) write(ctx context.Context, j *writeJob) error {
	j.done = make(chan struct{})
	select {
	case c.jobs <- j:
	case <-c.quit:
		return fmt.Errorf("store: closed")
	case <-ctx.Done():
		return ctx.Err() // not queued: nothing written
	}
	select {
	case <-j.done:
		return j.err
	case <-c.stopped:
		// Queued as the store closed, after the last batch: not written.
		select {
		case <-j.done:
			return j.err
		default:
			return fmt.Errorf("store: closed")
		}
	}
}

func (c *committer) run() {
	defer close(c.stopped)
	batch := make([]*writeJob, 0, maxBatch)
	for {
		select {
		case <-c.quit:
			c.drain()
			return
		case j := <-c.jobs:
			batch = append(batch[:0], j)
		}
		// Let every goroutine that can run now run first: those about to
		// write join this batch instead of the next. On one core nothing
		// else runs while a batch commits, so without this a batch held
		// one or two writes (2,000 commits a second for 600 applications);
		// when nothing else is runnable it returns at once.
		runtime.Gosched()
	gather:
		for len(batch) < maxBatch {
			select {
			case j := <-c.jobs:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		c.commit(batch)
		select {
		case <-c.restart:
			c.restartWAL()
		default:
		}
	}
}

// drain answers what was queued when the store closed.
func (c *committer) drain() {
	for {
		select {
		case j := <-c.jobs:
			j.err = fmt.Errorf("store: closed")
			close(j.done)
		default:
			return
		}
	}
}

// commit writes a batch in one transaction, each job under its own
// savepoint, and answers every job.
func (c *committer) commit(batch []*writeJob) {
	// No caller's context: one consumer leaving must not abort the
	// others' applications. And no deadline either: the driver watches a
	// context that can end with a goroutine per statement (modernc's
	// interruptOnDone), 160 of them for a batch of 40; what bounds a
	// statement here is SQLite's busy timeout, and the writers' turn is
	// only ever held for one transaction.
	ctx := context.Background()
	err := c.s.inTx(ctx, func(tx *sql.Tx) error {
		if len(batch) == 1 {
			// Alone: the transaction is its savepoint.
			j := batch[0]
			j.err = j.write(ctx, tx)
			return j.err
		}
		for _, j := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT application`); err != nil {
				return err
			}
			if j.err = j.write(ctx, tx); j.err != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO application`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE application`); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		c.commits.Add(1)
		select {
		case c.committed <- struct{}{}:
		default:
		}
	}
	for _, j := range batch {
		if err != nil && j.err == nil {
			j.err = err // the transaction failed: nothing of the batch is stored
		}
		close(j.done)
	}
}

// checkpoint runs one passive checkpoint, through Query, which does not
// take the writers' turn (stmtcache.go): beside the writer, not in its
// place. It returns how many frames the WAL holds.
func (c *committer) checkpoint() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, frames, copied int
	err := c.s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, err
}

// restartWAL makes the next write start the WAL over, from the writer's
// goroutine between two batches. A passive checkpoint copies the WAL back
// but cannot start it over: only a write that begins when every frame is
// copied and no reader is still reading from the WAL does. Under a steady
// stream of writes and reads that moment never came, and the WAL grew by
// every frame written: 0.3-0.6 GB in 20 s of the load test's apply
// journey, a file that only ever grows. A RESTART checkpoint copies what
// the last passive one left (up to checkpointEvery of writes, and two
// fsyncs), then waits for the readers that began before it, at most
// restartWait; no batch commits meanwhile, and it holds the writers' turn,
// so the rarer writers queue behind it instead of polling SQLite's lock.
// The next write starts the WAL over, and its commit cuts the file back to
// walSizeLimit.
func (c *committer) restartWAL() {
	if !c.ckpt.TryLock() {
		// The passive checkpoint is running: after the next batch, rather
		// than wait for it here.
		c.askRestart()
		return
	}
	defer c.ckpt.Unlock()
	ctx := context.Background()
	// The connection before the turn: connections waiting for the turn
	// could otherwise hold the whole pool while this waits for one.
	conn, err := c.s.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if c.s.turn.take(ctx) != nil {
		return
	}
	defer c.s.turn.give()
	// Through Query: Exec would take the turn this already holds.
	if busyTimeoutOf(ctx, conn, restartWait) != nil {
		discard(conn)
		return
	}
	var busy, frames, copied int
	c.tries.Add(1)
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
	if busyTimeoutOf(ctx, conn, busyTimeout) != nil {
		discard(conn) // never back in the pool with the short wait
	}
	switch {
	case err == nil && busy == 0:
		c.restarts.Add(1)
		c.retryAt.Store(0)
	case err == nil:
		// A reader older than the restart (an admin's long query) may
		// last: trying again at every checkpoint would hold the writer
		// restartWait each time, so not before the WAL has grown as much
		// again.
		c.retryAt.Store(int64(frames + c.restartAt))
	}
}

// askRestart has the writer restart the WAL after its next batch.
func (c *committer) askRestart() {
	select {
	case c.restart <- struct{}{}:
	default:
	}
}

// busyTimeoutOf sets how long conn's statements wait for a lock.
func busyTimeoutOf(ctx context.Context, conn *sql.Conn, d time.Duration) error {
	var ms int64
	return conn.QueryRowContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, d.Milliseconds())).Scan(&ms)
}

// discard closes conn instead of giving it back to the pool.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}

// close stops the writer once the batch in hand is answered.
func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
	<-c.ckptDone
}
