// Package store keeps applications and their buyer attempts durably: in an
// embedded SQLite file by default. The application is written, with its
// personal data sealed by the vault, before any buyer is called; workers
// claim due applications from here with a lease, so a crash or a restart
// resumes them and a buyer already posted to is never posted to again.
// A lease ends with the process that took it: a SQLite file has one owner
// at a time, so leases found at start are a dead process's; on PostgreSQL
// a lease is tied to its replica's database session (session.go).
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // pure-Go SQLite driver: no cgo

	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Errors of the store.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrAttempted: this buyer (and tier) was already posted this application.
	ErrAttempted = errors.New("store: buyer already attempted")
	// ErrLeaseLost: another worker owns the application now.
	ErrLeaseLost = errors.New("store: lease lost")
)

// Sealed is the personal part of an application, stored encrypted.
type Sealed struct {
	Submission  providers.Submission `json:"submission"`
	FieldErrors map[string]string    `json:"field_errors,omitempty"`
}

// New is what a new application is created from.
type New struct {
	ID             string
	SessionHash    string
	IdempotencyKey string
	Flow, Form     string
	Currency       string
	Prefilled      bool
	Deadline       time.Duration
	Submission     providers.Submission
	// Keys are the consumer's duplicate keys, hashed (providers.DedupeKeys).
	Keys []string
	// DraftKey is the owner hash of the session that posted: its draft's
	// values are erased with the application's creation ("": none).
	DraftKey string
	// Corrects is the application of the posting session (DraftKey's)
	// that was sent back for fixing, which this one corrects: the funnel
	// counts the consumer's application once ("": none).
	Corrects string
	// Returned, when set, is told the step-funnel line of the posting
	// session's leave (MarkLeft) once the application is stored, when the
	// session had left its form and came back to send it.
	Returned func(leftLine string)
	// Owner, when set, is the worker that takes the application in hand
	// as it is stored: it is written already claimed by Owner for Lease,
	// so no claim query finds it, and Owner rides it from memory.
	Owner string
	Lease time.Duration
}

// Store is the durable store.
type Store struct {
	db   *sql.DB
	keys *vault.Keyring
	now  func() time.Time
	pg   bool
	pool *pgxpool.Pool
	// fresh holds what was submitted for the applications this process
	// stored in the last half-minute, until the CRM mirror takes it
	// (Submission); nil unless a mirror runs here (KeepForMirror).
	fresh atomic.Pointer[bounded.Cache[*providers.Submission]]
	// lock makes a SQLite file single-owner (owner.go); session ties a
	// PostgreSQL replica's leases to its life (session.go).
	lock    *os.File
	session *session
	// turn is the SQLite writers' queue (stmtcache.go).
	turn writeTurn
	// writer writes new applications in batches (SQLite; nil on
	// PostgreSQL: commit.go).
	writer *committer
}

// sqliteConns is how many connections a SQLite store keeps open.
const sqliteConns = 8

// busyTimeout is how long a SQLite statement waits for a lock it needs.
const busyTimeout = 10 * time.Second

// Open opens the store at dsn and migrates it: sqlite://PATH (embedded,
// one replica) or postgres://... (shared by several replicas).
func Open(ctx context.Context, dsn string, keys *vault.Keyring) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn, keys)
	}
	path, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		return nil, fmt.Errorf("store: unsupported dsn scheme (want sqlite:// or postgres://)")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	// Pragmas go in the DSN so that every pooled connection gets them;
	// _txlock=immediate takes the write lock at BEGIN, so concurrent
	// read-then-write transactions wait instead of failing with SQLITE_BUSY.
	// No connection checkpoints on its own: the committer's checkpointer
	// does, beside the writer (commit.go). temp_store(MEMORY) keeps the
	// statement journal of the batch's savepoints in memory: past 64 KiB
	// SQLite spills it to a temporary file, and under load every page a
	// batch changed was written there too (a pwrite of 4 bytes and one of
	// the page: half the store's system calls). It is only read to roll a
	// savepoint back; a crash loses nothing committed. Sorts of the admin's
	// and dashboard's queries then use memory too: bounded by their rows.
	// journal_size_limit cuts the WAL file back after the writer restarts
	// it (commit.go).
	conn, err := sqlite.NewConnector(fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)"+
		"&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(%d)&_pragma=temp_store(MEMORY)&_txlock=immediate",
		path, busyTimeout.Milliseconds(), walSizeLimit))
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	turn := make(writeTurn, 1)
	db := sql.OpenDB(stmtConnector{Connector: conn, turn: turn})
	// Connections are kept, not opened per burst: database/sql keeps two
	// idle by default, so 64 requests at once opened and closed SQLite
	// connections (each reading the schema, each losing its prepared
	// statements) on every burst. A few connections serve every reader
	// (WAL: readers do not wait for the writer) and bound how many wait
	// on SQLite's write lock.
	db.SetMaxOpenConns(sqliteConns)
	db.SetMaxIdleConns(sqliteConns)
	s := &Store{db: db, keys: keys, now: time.Now, lock: lock, turn: turn}
	if err := s.migrate(ctx, goose.DialectSQLite3); err != nil {
		s.Close()
		return nil, err
	}
	if lock != nil {
		if err := s.reclaim(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	// The database file holds personal data, even if sealed.
	os.Chmod(path, 0o600)
	s.writer = newCommitter(s)
	return s, nil
}

func (s *Store) migrate(ctx context.Context, dialect goose.Dialect) error {
	p, err := goose.NewProvider(dialect, s.db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrating: %w", err)
	}
	return nil
}

// openPostgres opens a PostgreSQL store through a pgx pool, with the same
// migrations and queries as SQLite (placeholders rebound by q).
func openPostgres(ctx context.Context, dsn string, keys *vault.Keyring) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error can quote the DSN, password included: not repeated.
		return nil, fmt.Errorf("store: storage.dsn is not a valid postgres url")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connecting to postgres: %w", err)
	}
	s := &Store{db: stdlib.OpenDBFromPool(pool), pool: pool, keys: keys, now: time.Now, pg: true}
	if err := s.migrate(ctx, goose.DialectPostgres); err != nil {
		s.Close()
		return nil, err
	}
	if s.session, err = openSession(ctx, cfg.ConnConfig.Copy()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// reclaim frees every lease in a SQLite file just locked: whoever took
// them is gone, so their work is claimed at once instead of when the
// leases run out. Attempts left started stay as they are, to be marked
// in doubt when claimed: they may have reached the buyer.
func (s *Store) reclaim(ctx context.Context) error {
	for _, q := range []queue{submissionQueue, crmQueue} {
		_, err := s.db.ExecContext(ctx, `UPDATE applications SET `+q.leaseOwner+` = '', `+q.leaseTill+` = 0
			WHERE `+q.status+` = ? AND `+q.leaseTill+` <> 0`, q.ready)
		if err != nil {
			return fmt.Errorf("store: reclaiming leases of a stopped process: %w", err)
		}
	}
	// A postback in flight when the process stopped is sent again: every
	// template carries the application id, for the receiver to tell.
	if _, err := s.db.ExecContext(ctx, `UPDATE postbacks SET lease_owner = '', lease_until = 0 WHERE status = ? AND lease_until <> 0`,
		providers.PostbackPending); err != nil {
		return fmt.Errorf("store: reclaiming postbacks of a stopped process: %w", err)
	}
	return nil
}

// Close closes the database, and with it the session or the file lock.
func (s *Store) Close() error {
	if s.writer != nil {
		s.writer.close()
	}
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close() // a *sql.DB made from a pool does not close it
	}
	if s.session != nil {
		s.session.close()
	}
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Create stores a new application, sealed, as pending and due now (or
// claimed by n.Owner). Posting the same form twice (one idempotency key)
// creates it once: the second call returns the first application and
// created=false. It returns once the application is committed (on
// SQLite, with the others submitted at the same moment: commit.go).
func (s *Store) Create(ctx context.Context, n New) (app providers.Record, created bool, err error) {
	plain, err := json.Marshal(Sealed{Submission: n.Submission})
	if err != nil {
		return providers.Record{}, false, fmt.Errorf("store: %w", err)
	}
	row := sealedNew{n: n, now: s.now()}
	row.keyID, row.sealed = s.keys.Seal(plain, []byte(n.ID))
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		created, err = s.insertApplication(ctx, tx, &row)
		return err
	})
	if err != nil {
		return providers.Record{}, false, fmt.Errorf("store: creating application: %w", err)
	}
	if created {
		if row.leftLine != "" && n.Returned != nil {
			n.Returned(row.leftLine)
		}
		if fresh := s.fresh.Load(); fresh != nil {
			sub := n.Submission
			fresh.Set(n.ID, &sub)
		}
		// What was just written, as Get would read it: no read back.
		return row.record(), true, nil
	}
	app, err = s.getBy(ctx, "idempotency_key", n.IdempotencyKey)
	return app, false, err
}

// sealedNew is a new application ready to be written.
type sealedNew struct {
	n      New
	keyID  string
	sealed []byte
	now    time.Time
	// leftLine is set by the write: the line of the session's leave.
	leftLine string
}

// record is the application j writes, as scanApplication reads it back
// (times to the millisecond, in UTC; the variant cut as stored).
func (j sealedNew) record() providers.Record {
	n, a := j.n, j.n.Submission.Attribution
	return providers.Record{
		ID: n.ID, SessionHash: n.SessionHash, Flow: n.Flow, Form: n.Form, Currency: n.Currency, Status: providers.StatusPending,
		Attribution: providers.Attribution{Source: a.Source, Medium: a.Medium, Campaign: a.Campaign, Content: a.Content, Term: a.Term,
			Variant: providers.Cut(a.Variant, 32)},
		Prefilled: n.Prefilled, CreatedAt: fromMS(ms(j.now)), DeadlineAt: fromMS(ms(j.now.Add(n.Deadline))),
	}
}

// write runs f in a transaction: on SQLite the writer's, with the other
// writes waiting at the same moment (commit.go); on PostgreSQL its own.
// It returns once the transaction has committed, or f's error.
func (s *Store) write(ctx context.Context, f func(context.Context, *sql.Tx) error) error {
	if s.writer != nil {
		return s.writer.write(ctx, &writeJob{write: f})
	}
	return s.inTx(ctx, func(tx *sql.Tx) error { return f(ctx, tx) })
}

// exec runs one write statement through write on SQLite, on its own on
// PostgreSQL (a transaction around it would only add round trips).
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.writer == nil {
		return s.db.ExecContext(ctx, query, args...)
	}
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// insertApplication writes j's application, its duplicate keys and its
// draft's closing in tx; created is false when its idempotency key was
// taken already.
func (s *Store) insertApplication(ctx context.Context, tx *sql.Tx, j *sealedNew) (created bool, err error) {
	n, now := j.n, j.now
	a := n.Submission.Attribution
	var leaseTill, session int64
	if n.Owner != "" {
		leaseTill, session = ms(now.Add(n.Lease)), s.sessionKey()
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO applications
		(id, session_hash, idempotency_key, flow, form, currency, status,
		 utm_source, utm_medium, utm_campaign, utm_content, utm_term, variant, prefilled,
		 created_at, updated_at, deadline_at, next_run_at, lease_owner, lease_until, lease_session)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idempotency_key) DO NOTHING`),
		n.ID, n.SessionHash, n.IdempotencyKey, n.Flow, n.Form, n.Currency, providers.StatusPending,
		a.Source, a.Medium, a.Campaign, a.Content, a.Term, providers.Cut(a.Variant, 32), n.Prefilled,
		ms(now), ms(now), ms(now.Add(n.Deadline)), ms(now), n.Owner, leaseTill, session)
	if err != nil {
		return false, err
	}
	if rows, _ := res.RowsAffected(); rows != 1 {
		return false, nil
	}
	// Apart from the row the decision, the redirect and the mirror write
	// again (migration 00011).
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO application_pii (application_id, key_id, pii) VALUES (?, ?, ?)`),
		n.ID, j.keyID, j.sealed); err != nil {
		return false, err
	}
	for _, k := range n.Keys {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO application_keys (application_id, key_hash) VALUES (?, ?)
			ON CONFLICT (application_id, key_hash) DO NOTHING`), n.ID, k); err != nil {
			return false, err
		}
	}
	if n.DraftKey != "" {
		if j.leftLine, err = s.closeDraft(ctx, tx, n.DraftKey); err != nil {
			return false, err
		}
	}
	if n.Corrects != "" && n.DraftKey != "" {
		// Only the posting session's own application, and only one sent
		// back: anything else named here is left as it is.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE applications SET corrected_by = ? WHERE id = ? AND session_hash = ? AND status = ?`),
			n.ID, n.Corrects, n.DraftKey, providers.StatusNeedsFix); err != nil {
			return false, err
		}
	}
	return true, nil
}

const appColumns = `id, session_hash, flow, form, currency, status, redirect_url, buyer, revenue, reason,
	utm_source, utm_medium, utm_campaign, utm_content, utm_term, variant, prefilled,
	created_at, decided_at, deadline_at, erased_at, crm_status, crm_ref, crm_tries, crm_error`

// Get returns the application with id.
func (s *Store) Get(ctx context.Context, id string) (providers.Record, error) {
	return s.getBy(ctx, "id", id)
}

func (s *Store) getBy(ctx context.Context, col, v string) (providers.Record, error) {
	a, err := s.scanApplication(s.db.QueryRowContext(ctx, s.q(`SELECT `+appColumns+` FROM applications WHERE `+col+` = ?`), v))
	if errors.Is(err, sql.ErrNoRows) {
		return providers.Record{}, ErrNotFound
	}
	if err != nil {
		return providers.Record{}, fmt.Errorf("store: reading application: %w", err)
	}
	return a, nil
}

// Records reads the applications of ids (those that exist) in one query
// a batch of up to 64: the postbacks of one claim are rendered from it,
// where a query each was a twentieth of the apply journey's CPU. The list
// is padded to 1, 4, 16 or 64 ids, so that a few statements are prepared,
// not one for every length.
func (s *Store) Records(ctx context.Context, ids []string) (map[string]providers.Record, error) {
	out := make(map[string]providers.Record, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 64)]
		ids = ids[len(batch):]
		n := 1
		for n < len(batch) {
			n *= 4
		}
		args := make([]any, n)
		for i := range args {
			args[i] = batch[min(i, len(batch)-1)]
		}
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+appColumns+` FROM applications WHERE id IN (?`+strings.Repeat(", ?", n-1)+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("store: reading applications: %w", err)
		}
		for rows.Next() {
			a, err := s.scanApplication(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: reading applications: %w", err)
			}
			out[a.ID] = a
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: reading applications: %w", err)
		}
	}
	return out, nil
}

// scanApplication reads one row of appColumns.
func (s *Store) scanApplication(row interface{ Scan(...any) error }) (providers.Record, error) {
	var a providers.Record
	var created, decided, deadline, erased int64
	err := row.Scan(
		&a.ID, &a.SessionHash, &a.Flow, &a.Form, &a.Currency, &a.Status, &a.RedirectURL, &a.Buyer, &a.Revenue, &a.Reason,
		&a.Attribution.Source, &a.Attribution.Medium, &a.Attribution.Campaign, &a.Attribution.Content, &a.Attribution.Term,
		&a.Attribution.Variant, &a.Prefilled, &created, &decided, &deadline, &erased, &a.CRMStatus, &a.CRMRef, &a.CRMTries, &a.CRMError)
	a.CreatedAt, a.DecidedAt, a.DeadlineAt, a.Erased = fromMS(created), fromMS(decided), fromMS(deadline), erased != 0
	if err == nil {
		// One URL that does not open is that application's loss, never
		// its neighbours' in a list (the dashboard, a claim's postbacks).
		var lost error
		a.RedirectURL, lost = s.openURL(a.ID, a.RedirectURL, "applications")
		a.RedirectLost = lost != nil
	}
	return a, err
}

// sealedURL marks a buyer's redirect URL kept sealed. The URL is where
// the buyer sends the consumer, and its query may carry the consumer's
// data (an email, the buyer's lead id): it is sealed like the rest,
// bound to its application, as "sealed:<key id>:<base64>". A URL that
// rows written before this version hold reads as it was written.
const sealedURL = "sealed:"

func (s *Store) sealURL(id, u string, where ...string) string {
	if u == "" {
		return ""
	}
	keyID, ct := s.keys.Seal([]byte(u), urlAAD(id, where))
	return sealedURL + keyID + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// openURL opens what sealURL(id, u, where...) made.
func (s *Store) openURL(id, v string, where ...string) (string, error) {
	rest, ok := strings.CutPrefix(v, sealedURL)
	if !ok {
		return v, nil
	}
	keyID, enc, _ := strings.Cut(rest, ":")
	ct, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("store: sealed redirect URL of %s: %w", id, err)
	}
	plain, err := s.keys.Open(keyID, ct, urlAAD(id, where))
	if err != nil {
		return "", fmt.Errorf("store: sealed redirect URL of %s: %w", id, err)
	}
	return string(plain), nil
}

// urlAAD binds a sealed redirect URL to its row: the application's, or
// one attempt's (table, application, buyer, tier). Moved to another row,
// or read as the sealed personal part, it does not open.
func urlAAD(id string, where []string) []byte {
	return []byte("redirect_url\x00" + id + "\x00" + strings.Join(where, "\x00"))
}

// Sealed returns the decrypted personal part of an application.
func (s *Store) Sealed(ctx context.Context, id string) (Sealed, error) {
	var keyID string
	var ct []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT key_id, pii FROM application_pii WHERE application_id = ?`), id).Scan(&keyID, &ct)
	if errors.Is(err, sql.ErrNoRows) {
		// No row of its own: stored by a replica of an earlier version
		// during a rolling upgrade (migration 11), erased, or no such
		// application.
		err = s.db.QueryRowContext(ctx, s.q(`SELECT key_id, pii FROM applications WHERE id = ?`), id).Scan(&keyID, &ct)
		if errors.Is(err, sql.ErrNoRows) {
			return Sealed{}, ErrNotFound
		}
	}
	if err != nil {
		return Sealed{}, fmt.Errorf("store: reading application: %w", err)
	}
	if len(ct) == 0 {
		return Sealed{}, fmt.Errorf("store: personal data of this application was erased: %w", ErrNotFound)
	}
	plain, err := s.keys.Open(keyID, ct, []byte(id))
	if err != nil {
		return Sealed{}, fmt.Errorf("store: %w", err)
	}
	var out Sealed
	if err := json.Unmarshal(plain, &out); err != nil {
		return Sealed{}, fmt.Errorf("store: sealed record: %w", err)
	}
	return out, nil
}

// KeepForMirror makes the store keep what was submitted for each
// application it creates, for the CRM mirror of this process to take
// (Submission): at most keptForMirror, each for 30 seconds (dropped at the
// next sweep, within 30 more), the oldest going first when full. Only a
// process that runs the mirror calls it: nothing else would take them.
func (s *Store) KeepForMirror() {
	s.fresh.Store(bounded.New[*providers.Submission](keptForMirror, 30*time.Second))
}

// keptForMirror bounds the submissions kept for the mirror (a few
// kilobytes each): two seconds at 2,000 applications a second. The mirror
// claims what is due oldest first, and, once it has caught up, every
// second: with 1,024 kept, a mirror a second or more behind found the
// entries it claimed gone, read and opened each from the store instead
// (6 % of the server's CPU at 1,800 applications a second, against 0.7 %
// when it kept up), and so fell further behind.
const keptForMirror = 4096

// Submission is what the consumer submitted for application id, as
// Sealed reads it. The CRM mirror asks moments after the decision: what
// this process stored in the last half-minute is answered from memory,
// once (a retry, or another replica, reads the store), instead of reading
// and opening the sealed part the request has just written. An erasure
// empties what is kept.
func (s *Store) Submission(ctx context.Context, id string) (providers.Submission, error) {
	if fresh := s.fresh.Load(); fresh != nil {
		if sub, ok := fresh.Get(id); ok {
			fresh.Delete(id)
			return *sub, nil
		}
	}
	rec, err := s.Sealed(ctx, id)
	return rec.Submission, err
}

// Claim leases up to limit due pending applications to owner for lease,
// and returns their ids. A lease that runs out (its worker is stuck or
// gone), or whose replica's PostgreSQL session ended, makes the
// application claimable again.
func (s *Store) Claim(ctx context.Context, owner string, lease time.Duration, limit int) ([]string, error) {
	var ids []string
	err := s.claim(ctx, submissionQueue, owner, lease, limit, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	})
	if err != nil {
		// Rows scanned before a failed commit were never leased.
		return nil, err
	}
	return ids, nil
}

// queue names the columns of one kind of work done from the applications
// table: its state and due time, and its own lease.
type queue struct {
	name                                             string
	status, due, leaseOwner, leaseTill, leaseSession string
	ready                                            string // the state that is due
	// set is more of the claim's assignments (", col = …"), returning
	// what it answers of each row claimed.
	set, returning string
}

var (
	submissionQueue = queue{name: "claiming", status: "status", due: "next_run_at", leaseOwner: "lease_owner", leaseTill: "lease_until",
		leaseSession: "lease_session", ready: string(providers.StatusPending), returning: "id"}
	crmQueue = queue{name: "claiming crm work", status: "crm_status", due: "crm_next_at", leaseOwner: "crm_lease_owner", leaseTill: "crm_lease_until",
		leaseSession: "crm_lease_session", ready: string(providers.CRMPending),
		set: ", crm_claims = crm_claims + 1", returning: "id, status, crm_tries, crm_claims"}
)

// claim leases up to limit due rows of q to owner, scanning each row
// claimed (q.returning) with scan.
func (s *Store) claim(ctx context.Context, q queue, owner string, lease time.Duration, limit int, scan func(*sql.Rows) error) error {
	if s.session == nil {
		return s.write(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
			return s.claimIn(ctx, tx, q, owner, lease, limit, scan)
		})
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: %w", q.name, err)
	}
	defer tx.Rollback()
	// Held shared, this lock keeps new sessions from beginning until the
	// claim is committed (session.go).
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared($1, 0)`, sessionSpace); err != nil {
		return fmt.Errorf("store: %s: %w", q.name, err)
	}
	if err := s.claimIn(ctx, tx, q, owner, lease, limit, scan); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: %w", q.name, err)
	}
	return nil
}

// claimIn is claim's one statement, run in claim's transaction.
func (s *Store) claimIn(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q queue, owner string, lease time.Duration, limit int, scan func(*sql.Rows) error) error {
	now := s.now()
	free := q.leaseTill + ` < ?`
	args := []any{owner, ms(now.Add(lease)), s.sessionKey(), q.ready, ms(now), ms(now)}
	if s.session != nil {
		// A lease also ends with its replica's session, and a replica
		// without its own session claims nothing: its leases would not
		// hold.
		free = `(` + free + ` OR (` + q.leaseSession + ` <> 0 AND NOT ` + sessionAlive(q.leaseSession) + `)) AND ` + sessionAlive("?")
		args = append(args, s.session.key)
	}
	rows, err := db.QueryContext(ctx, s.q(`UPDATE applications SET `+q.leaseOwner+` = ?, `+q.leaseTill+` = ?, `+q.leaseSession+` = ?`+q.set+`
		WHERE id IN (SELECT id FROM applications
			WHERE `+q.status+` = ? AND `+q.due+` <= ? AND `+free+`
			ORDER BY `+q.due+` LIMIT ?`+s.skipLocked()+`)
		RETURNING `+q.returning), append(args, limit)...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", q.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("store: %s: %w", q.name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", q.name, err)
	}
	return nil
}

// Renew extends owner's lease on a pending application it is working on:
// a worker renews while it waits on buyers, so a lease can stay short and
// a dead worker's applications come back quickly.
func (s *Store) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	res, err := s.exec(ctx, s.q(`UPDATE applications SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = ?`),
		ms(s.now().Add(lease)), id, owner, providers.StatusPending)
	if err != nil {
		return fmt.Errorf("store: renewing lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// sessionKey is what a lease taken now records as its session: 0 where
// only its time counts (SQLite).
func (s *Store) sessionKey() int64 {
	if s.session == nil {
		return 0
	}
	return s.session.key
}

// Release gives a claimed application back, due again at next.
func (s *Store) Release(ctx context.Context, id, owner string, next time.Time) error {
	_, err := s.exec(ctx, s.q(`UPDATE applications SET lease_owner = '', lease_until = 0, lease_session = 0, next_run_at = ?
		WHERE id = ? AND lease_owner = ?`), ms(next), id, owner)
	if err != nil {
		return fmt.Errorf("store: releasing: %w", err)
	}
	return nil
}

// StartAttempt records, before the request leaves, that buyer (tier) is
// about to be posted this application. ErrAttempted means it already was.
func (s *Store) StartAttempt(ctx context.Context, id, owner, buyer, tier string, seq int) error {
	return s.underLease(ctx, id, owner, func(tx *sql.Tx) error {
		return s.insertAttempt(ctx, tx, id, buyer, tier, seq)
	})
}

func (s *Store) insertAttempt(ctx context.Context, tx *sql.Tx, id, buyer, tier string, seq int) error {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO attempts (application_id, buyer, tier, seq, started_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (application_id, buyer, tier) DO NOTHING`), id, buyer, tier, seq, ms(s.now()))
	if err != nil {
		return fmt.Errorf("store: starting attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrAttempted
	}
	return nil
}

// RetryAttempt records, before the request leaves again, that a failed
// attempt which never reached its buyer is tried once more. ErrAttempted
// means it is not such an attempt (any more).
func (s *Store) RetryAttempt(ctx context.Context, id, owner, buyer, tier string) error {
	return s.underLease(ctx, id, owner, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE attempts SET outcome = ?, tries = tries + 1, started_at = ?, finished_at = 0, retry = FALSE
			WHERE application_id = ? AND buyer = ? AND tier = ? AND outcome = ? AND retry = TRUE`),
			providers.Started, ms(s.now()), id, buyer, tier, providers.Failed)
		if err != nil {
			return fmt.Errorf("store: retrying attempt: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrAttempted
		}
		return nil
	})
}

// underLease runs write in a transaction that first checks owner still
// holds the application, and commits it when write returns nil. Only the lease holder
// may post: a worker whose lease ran out while it was stuck must not post
// behind the back of the one that took over. ErrLeaseLost: not held.
//
// On PostgreSQL the application's row stays locked until the write is
// committed, so a takeover comes wholly before or after it, and the
// replica's own session must be held: without it another replica may
// take the application over at any moment, so nothing is posted and the
// application is given back, to be claimed at once by whoever has a
// session (this replica again once its session is back).
func (s *Store) underLease(ctx context.Context, id, owner string, write func(*sql.Tx) error) error {
	if s.session == nil {
		// SQLite: with the other writes of the moment (commit.go). The
		// check and write run under the writer's transaction; write's
		// statements use the caller's context, which the worker never
		// cancels mid-round.
		return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var held bool
			err := tx.QueryRowContext(ctx, `SELECT TRUE FROM applications WHERE id = ? AND lease_owner = ? AND status = ?`,
				id, owner, providers.StatusPending).Scan(&held)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrLeaseLost
			}
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			return write(tx)
		})
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback()
	check, checkArgs := `SELECT TRUE`, []any{id, owner, providers.StatusPending}
	if s.session != nil {
		check, checkArgs = `SELECT `+sessionAlive("?"), append([]any{s.session.key}, checkArgs...)
	}
	var alive bool
	err = tx.QueryRowContext(ctx, s.q(check+` FROM applications WHERE id = ? AND lease_owner = ? AND status = ?`+s.forUpdate()), checkArgs...).Scan(&alive)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !alive {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE applications SET lease_owner = '', lease_until = 0, lease_session = 0 WHERE id = ?`), id); err == nil {
			tx.Commit()
		}
		return ErrLeaseLost
	}
	if err := write(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// FinishAttempt records how an attempt ended.
func (s *Store) FinishAttempt(ctx context.Context, id, buyer, tier string, a providers.Attempt) error {
	if s.writer == nil {
		return s.finishAttempt(ctx, s.db, id, buyer, tier, a) // PostgreSQL: one statement, no transaction around it
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.finishAttempt(ctx, tx, id, buyer, tier, a) })
}

func (s *Store) finishAttempt(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id, buyer, tier string, a providers.Attempt) error {
	x := a.Exchange
	_, err := db.ExecContext(ctx, s.q(`UPDATE attempts SET finished_at = ?, latency_ms = ?, outcome = ?, price = ?, reason = ?, redirect_url = ?, final = ?, retry = ?,
		request = ?, answer_status = ?, response = ?
		WHERE application_id = ? AND buyer = ? AND tier = ?`),
		ms(s.now()), a.Latency.Milliseconds(), a.Outcome, a.Price, providers.Cut(a.Reason, 500), s.sealURL(id, a.RedirectURL, "attempts", buyer, tier), a.Final, a.Retry,
		x.Request, x.Status, x.Response, id, buyer, tier)
	if err != nil {
		return fmt.Errorf("store: finishing attempt: %w", err)
	}
	return nil
}

// MarkInDoubt turns attempts left "started" by a stopped process into
// "in doubt": they may have reached the buyer, so they are never re-sent.
func (s *Store) MarkInDoubt(ctx context.Context, id string) error {
	_, err := s.exec(ctx, s.q(`UPDATE attempts SET outcome = ?, finished_at = ?, reason = ?
		WHERE application_id = ? AND outcome = ?`), providers.InDoubt, ms(s.now()),
		"interrupted while the request may have reached the buyer; not re-sent", id, providers.Started)
	return err
}

// Attempts lists an application's attempts in order.
func (s *Store) Attempts(ctx context.Context, id string) ([]providers.Attempt, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT buyer, tier, seq, started_at, finished_at, latency_ms, outcome, price, reason, redirect_url, final, retry, tries
		FROM attempts WHERE application_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("store: reading attempts: %w", err)
	}
	defer rows.Close()
	var out []providers.Attempt
	for rows.Next() {
		var a providers.Attempt
		var started, finished, latency int64
		if err := rows.Scan(&a.Buyer, &a.Tier, &a.Seq, &started, &finished, &latency, &a.Outcome, &a.Price, &a.Reason, &a.RedirectURL, &a.Final, &a.Retry, &a.Tries); err != nil {
			return nil, fmt.Errorf("store: reading attempts: %w", err)
		}
		// Not opening, the URL is lost; the attempt's account stays.
		a.RedirectURL, _ = s.openURL(id, a.RedirectURL, "attempts", a.Buyer, a.Tier)
		a.StartedAt, a.FinishedAt, a.Latency = fromMS(started), fromMS(finished), time.Duration(latency)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// Exchanges lists an application's attempts' exchanges with their
// buyers, masked as they were kept, in the attempts' order (Attempts
// leaves them out: only the audit page reads them).
func (s *Store) Exchanges(ctx context.Context, id string) ([]providers.Exchange, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT request, answer_status, response FROM attempts WHERE application_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("store: reading exchanges: %w", err)
	}
	defer rows.Close()
	var out []providers.Exchange
	for rows.Next() {
		var x providers.Exchange
		if err := rows.Scan(&x.Request, &x.Status, &x.Response); err != nil {
			return nil, fmt.Errorf("store: reading exchanges: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// CountAccepted counts the leads buyer accepted since a time: what its
// hourly and daily caps are measured against, across every replica.
func (s *Store) CountAccepted(ctx context.Context, buyer string, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM attempts WHERE buyer = ? AND outcome = ? AND started_at >= ?`),
		buyer, "accepted", ms(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: counting accepted leads: %w", err)
	}
	return n, nil
}

// Decide records the end of an application, if owner still holds it.
func (s *Store) Decide(ctx context.Context, id, owner string, d providers.Verdict) error {
	return s.FinishAndDecide(ctx, id, owner, Finished{}, d)
}

// Finished is how the attempt that ended a round went, when it is
// recorded with the decision (Buyer "" for none).
type Finished struct {
	Buyer, Tier string
	Attempt     providers.Attempt
}

// FinishAndDecide records how the round's last attempt went and the end
// of the application in one write, if owner still holds it: an accepted
// lead is never on disk as an acceptance without its decision.
func (s *Store) FinishAndDecide(ctx context.Context, id, owner string, f Finished, d providers.Verdict) error {
	now := s.now()
	var keyID string
	var sealed []byte
	if len(d.FieldErrors) > 0 {
		// Field errors can echo what the consumer typed: sealed like the rest.
		rec, err := s.Sealed(ctx, id)
		if err != nil {
			return err
		}
		rec.FieldErrors = d.FieldErrors
		plain, _ := json.Marshal(rec)
		keyID, sealed = s.keys.Seal(plain, []byte(id))
	}
	var crm providers.CRMState
	if d.CRM {
		crm = providers.CRMPending
	}
	redirect := s.sealURL(id, d.RedirectURL, "applications")
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE applications SET status = ?, redirect_url = ?, buyer = ?, revenue = ?, reason = ?,
			decided_at = ?, updated_at = ?, lease_owner = '', lease_until = 0, lease_session = 0, crm_status = ?, crm_next_at = ?
			WHERE id = ? AND lease_owner = ? AND status = ?`),
			d.Status, redirect, d.Buyer, d.Revenue, providers.Cut(d.Reason, 500), ms(now), ms(now), crm, ms(now),
			id, owner, providers.StatusPending)
		if err != nil {
			return fmt.Errorf("store: deciding: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		if sealed != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE application_pii SET key_id = ?, pii = ? WHERE application_id = ?`),
				keyID, sealed, id); err != nil {
				return fmt.Errorf("store: deciding: %w", err)
			}
		}
		if f.Buyer != "" {
			if err := s.finishAttempt(ctx, tx, id, f.Buyer, f.Tier, f.Attempt); err != nil {
				return err
			}
		}
		if d.Status == providers.StatusNeedsFix && d.Buyer != "" {
			// The buyer asked for the form corrected: it did not take the
			// consumer, and the corrected application (a new one, with the
			// same duplicate keys) is for it. Its duplicate claims go.
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM dedupe_claims WHERE application_id = ? AND buyer = ?`), id, d.Buyer); err != nil {
				return fmt.Errorf("store: freeing duplicate claims: %w", err)
			}
		}
		// The conversion reports of the verdict: in its transaction, so a
		// decision is never without them, nor they without it.
		return s.queuePostbacks(ctx, tx, id, string(d.Status), d.Postbacks)
	})
}

// skipLocked makes concurrent claims on PostgreSQL pass over rows another
// replica is claiming instead of waiting for them. SQLite has one writer
// at a time, so its claims never overlap.
func (s *Store) skipLocked() string {
	if s.pg {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// forUpdate locks the rows read on PostgreSQL until the transaction ends.
// SQLite's write transactions are already one at a time.
func (s *Store) forUpdate() string {
	if s.pg {
		return " FOR UPDATE"
	}
	return ""
}

// q adapts a query written with ? placeholders to the database's dialect.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// CRMJob is an application claimed for the CRM mirror.
type CRMJob struct {
	ID     string
	Status providers.Status
	Tries  int // failed tries so far
	// First: no mirror has claimed it before, so none can have created
	// its lead at the CRM yet (a create is only made under a claim).
	First bool
}

// ClaimCRM leases up to limit decided applications due for the CRM mirror.
func (s *Store) ClaimCRM(ctx context.Context, owner string, lease time.Duration, limit int) ([]CRMJob, error) {
	var jobs []CRMJob
	err := s.claim(ctx, crmQueue, owner, lease, limit, func(rows *sql.Rows) error {
		var j CRMJob
		var claims int
		err := rows.Scan(&j.ID, &j.Status, &j.Tries, &claims)
		// Failed tries count too: a replica of an older version, during a
		// rolling upgrade, claims without counting but records failures.
		j.First = claims == 1 && j.Tries == 0
		jobs = append(jobs, j)
		return err
	})
	if err != nil {
		// Rows scanned before a failed commit were never leased: working
		// them would create leads no lease guards.
		return nil, err
	}
	return jobs, nil
}

// CRMBacklog is how many applications are due for the CRM mirror at now
// and not mirrored yet: a number that grows means the mirror falls behind.
func (s *Store) CRMBacklog(ctx context.Context, now time.Time) (int, error) {
	return s.count(ctx, "the crm backlog", `SELECT COUNT(*) FROM applications WHERE crm_status = ? AND crm_next_at <= ?`,
		providers.CRMPending, ms(now))
}

// count runs a COUNT(*) query; what names it in the error.
func (s *Store) count(ctx context.Context, what, query string, args ...any) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(query), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting %s: %w", what, err)
	}
	return n, nil
}

// FinishCRM records that the application is in the CRM as lead ref.
func (s *Store) FinishCRM(ctx context.Context, id, owner, ref string) error {
	res, err := s.exec(ctx, s.q(`UPDATE applications SET crm_status = ?, crm_ref = ?, crm_error = '', crm_tries = crm_tries + 1,
		crm_lease_owner = '', crm_lease_until = 0, crm_lease_session = 0 WHERE id = ? AND crm_lease_owner = ? AND crm_status = ?`),
		providers.CRMDone, providers.Cut(ref, 100), id, owner, providers.CRMPending)
	if err != nil {
		return fmt.Errorf("store: recording crm lead: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// RetryCRM records a failed mirror try, due again at next.
func (s *Store) RetryCRM(ctx context.Context, id, owner string, next time.Time, reason string) error {
	_, err := s.exec(ctx, s.q(`UPDATE applications SET crm_tries = crm_tries + 1, crm_next_at = ?, crm_error = ?,
		crm_lease_owner = '', crm_lease_until = 0, crm_lease_session = 0 WHERE id = ? AND crm_lease_owner = ?`),
		ms(next), providers.Cut(reason, 300), id, owner)
	if err != nil {
		return fmt.Errorf("store: recording crm failure: %w", err)
	}
	return nil
}

// Erase removes the personal data of applications decided before cutoff
// and returns how many were erased. What remains (status, buyer, revenue,
// attribution, attempts) is the statistics; a CRM mirror still pending is
// given up, as nothing personal is left to send.
func (s *Store) Erase(ctx context.Context, cutoff time.Time) (int, error) {
	now := s.now()
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The idempotency key goes too: a post without a form's
		// submission id is keyed by a digest of its answers, which would
		// link two erased applications that gave the same ones.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE applications SET pii = NULL, key_id = '', erased_at = ?, updated_at = ?,
			idempotency_key = 'erased:' || id,
			crm_status = CASE WHEN crm_status = ? THEN ? ELSE crm_status END
			WHERE status <> ? AND decided_at > 0 AND decided_at < ? AND erased_at = 0`),
			ms(now), ms(now), providers.CRMPending, providers.CRMErased, providers.StatusPending, ms(cutoff))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		// The words of buyers and of Cashfin, and the buyers' redirect
		// URLs, go too: whatever is scrubbed out of them before they are
		// kept (providers.ScrubReason), they are someone else's free text
		// about this consumer, and a redirect URL may carry what its
		// buyer was sent. The counts, outcomes and money stay, and the
		// masked requests: only codes, amounts and choices are left in
		// them.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE applications SET reason = '', crm_error = '', redirect_url = ''
			WHERE erased_at > 0 AND (reason <> '' OR crm_error <> '' OR redirect_url <> '')`)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE attempts SET reason = '', redirect_url = '', response = ''
			WHERE application_id IN (SELECT id FROM applications WHERE erased_at > 0) AND (reason <> '' OR redirect_url <> '' OR response <> '')`)); err != nil {
			return err
		}
		// The sealed part goes, and the duplicate keys with it: they are
		// derived from the personal data.
		for _, table := range []string{"application_pii", "application_keys", "dedupe_claims"} {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE application_id IN
				(SELECT id FROM applications WHERE erased_at > 0)`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: erasing personal data: %w", err)
	}
	if n > 0 && s.fresh.Load() != nil {
		// What is kept for the mirror is younger than any retention that
		// makes sense, but none of it outlives an erasure.
		s.KeepForMirror()
	}
	return int(n), nil
}
