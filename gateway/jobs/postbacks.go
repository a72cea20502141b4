package jobs

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/leadgate/leadgate/gateway/postback"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// PostbackStore is what postback delivery needs of the store.
type PostbackStore interface {
	ClaimPostbacks(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.PostbackJob, error)
	FinishPostback(ctx context.Context, j store.PostbackJob, owner string, state providers.PostbackState, next time.Time, status int, reason string) error
	Records(ctx context.Context, ids []string) (map[string]providers.Record, error)
	Get(ctx context.Context, id string) (providers.Record, error)
	Sealed(ctx context.Context, id string) (store.Sealed, error)
	PostbackBacklog(ctx context.Context, now time.Time) (int, error)
}

// PostbackSpec is one configured postback as delivery uses it.
type PostbackSpec struct {
	Template    postback.Template
	Timeout     time.Duration
	GiveUpAfter time.Duration
}

// Postbacks delivers the conversion reports queued in the store with each
// decision: rendered from the application (its click ids from the sealed
// part) at delivery, retried with a jittered, doubling pause on a network
// error, 429 or 5xx until GiveUpAfter, and never again once a receiver
// answered 2xx. A delivery cut off by a crash is sent again when its lease
// runs out: every template carries the application id, so the receiver
// can tell the repeat.
type Postbacks struct {
	Store PostbackStore
	Specs map[string]PostbackSpec // by postback name
	HTTP  *http.Client
	Owner string
	Log   *slog.Logger
	// Poll is how often the store is checked (default 1s); RetryBase the
	// first pause after a failure (default 5s, doubling to an hour).
	Poll, RetryBase time.Duration
	// Done, when set, is told each try: the postback's name and
	// "delivered", "retry" or "failed" (for metrics).
	Done func(name, result string)
	Now  func() time.Time
	// Workers is how many postbacks are delivered at once (default 256):
	// what keeps up is the rate times a delivery's time, and that time is
	// the receiver's answer plus this server's own queue under load. The
	// load test's receiver answers in 20 ms, yet 64 workers fell behind at
	// 955 conversions a second (a delivery took 64 ms end to end); 256
	// kept the backlog flat there, and keep up with 1,280 a second from a
	// receiver that takes 200 ms. Idle workers cost nothing: they are
	// started only for what is claimed.
	Workers int
	// Backlog, when set, is told at each poll how many postbacks are due
	// and not delivered yet (for metrics: growing means falling behind).
	Backlog func(n int)
}

// PostbackWorkers is how many postbacks are delivered at once by default
// (Postbacks.Workers): a client delivering them keeps as many idle
// connections a receiver, or a burst to one receiver reconnects.
const PostbackWorkers = 256

// Run delivers until ctx ends; a delivery in flight finishes first.
func (p *Postbacks) Run(ctx context.Context) {
	work := context.WithoutCancel(ctx)
	workers := p.Workers
	if workers <= 0 {
		workers = PostbackWorkers
	}
	drive(ctx, cmp(p.Poll, time.Second), workers, p.countBacklog, func(n int) []delivery {
		jobs, err := p.Store.ClaimPostbacks(ctx, p.Owner, p.lease(), n)
		if err != nil && ctx.Err() == nil {
			p.Log.Error("postbacks: claiming", "err", err)
		}
		// Read on work: a claim made just before a stop is delivered,
		// not failed for a cancelled read.
		return p.withRecords(work, jobs)
	}, func(d delivery) { p.deliver(work, d) })
}

// delivery is a claimed postback with the application it reports on, or
// why that could not be read with the claim's (deliver then reads it on
// its own, so one bad read never holds back a whole claim).
type delivery struct {
	store.PostbackJob
	rec providers.Record
	err error
}

// withRecords reads the applications of a claim's postbacks in one query.
func (p *Postbacks) withRecords(ctx context.Context, jobs []store.PostbackJob) []delivery {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.Application
	}
	recs, err := p.Store.Records(ctx, ids)
	out := make([]delivery, len(jobs))
	for i, j := range jobs {
		out[i] = delivery{PostbackJob: j, err: err}
		if err == nil {
			var ok bool
			if out[i].rec, ok = recs[j.Application]; !ok {
				out[i].err = store.ErrNotFound
			}
		}
	}
	return out
}

func (p *Postbacks) countBacklog(ctx context.Context) {
	if p.Backlog == nil {
		return
	}
	if n, err := p.Store.PostbackBacklog(ctx, time.Now()); err == nil {
		p.Backlog(n)
	}
}

// lease outlasts the slowest delivery: a live process never has its
// postback taken over (which would send it twice).
func (p *Postbacks) lease() time.Duration {
	longest := 10 * time.Second
	for _, s := range p.Specs {
		longest = max(longest, s.Timeout)
	}
	return longest + 30*time.Second
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// deliver makes one try of one postback and records it.
func (p *Postbacks) deliver(ctx context.Context, d delivery) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	j, rec := d.PostbackJob, d.rec
	spec, ok := p.Specs[j.Name]
	if !ok {
		p.finish(ctx, j, providers.PostbackFailed, time.Time{}, 0, "postback no longer configured")
		return
	}
	if d.err != nil {
		if rec, d.err = p.Store.Get(ctx, j.Application); d.err != nil {
			p.finish(ctx, j, providers.PostbackPending, now().Add(p.backoff(j.Tries)), 0, d.err.Error())
			return
		}
	}
	attr := rec.Attribution
	if spec.Template.UsesClickIDs() {
		// The click ids are sealed with the personal data: opened only
		// for a template that sends them.
		sealed, err := p.Store.Sealed(ctx, j.Application)
		if err != nil {
			p.finish(ctx, j, providers.PostbackFailed, time.Time{}, 0, "the click ids were erased with the personal data")
			return
		}
		attr = sealed.Submission.Attribution
	}
	// {timestamp} is the event's (queued with the decision or the
	// redirect), not this try's: a retry hours later still reports the
	// hour of the sale.
	method, target, body := spec.Template.Render(postback.Values(rec, attr, j.Event, j.CreatedAt))
	res := postback.Send(ctx, p.HTTP, method, target, body, spec.Template.JSON, spec.Timeout)
	switch {
	case res.Delivered():
		p.finish(ctx, j, providers.PostbackDelivered, time.Time{}, res.Status, "")
	case res.Retry && now().Before(j.CreatedAt.Add(spec.GiveUpAfter)):
		p.finish(ctx, j, providers.PostbackPending, now().Add(p.backoff(j.Tries)), res.Status, res.Err.Error())
	default:
		p.finish(ctx, j, providers.PostbackFailed, time.Time{}, res.Status, res.Err.Error())
	}
}

// finish records a try. The log line names the postback, the event and
// the application, never the URL (it can carry click ids).
func (p *Postbacks) finish(ctx context.Context, j store.PostbackJob, state providers.PostbackState, next time.Time, status int, reason string) {
	if err := p.Store.FinishPostback(ctx, j, p.Owner, state, next, status, reason); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		p.Log.Error("postbacks: recording a try", "application", j.Application, "postback", j.Name, "err", err)
	}
	result := map[providers.PostbackState]string{providers.PostbackDelivered: "delivered", providers.PostbackPending: "retry", providers.PostbackFailed: "failed"}[state]
	level := slog.LevelInfo
	if state != providers.PostbackDelivered {
		level = slog.LevelWarn
	}
	p.Log.Log(ctx, level, "postback", "application", j.Application, "postback", j.Name, "event", j.Event,
		"result", result, "status", status, "reason", reason, "tries", j.Tries+1)
	if p.Done != nil {
		p.Done(j.Name, result)
	}
}

// backoff is the pause after the n-th failed try: doubling from
// RetryBase to an hour, with full jitter in [½, 1½), so that a receiver
// coming back is not stormed.
func (p *Postbacks) backoff(tries int) time.Duration {
	d := min(cmp(p.RetryBase, 5*time.Second)<<min(tries, 12), time.Hour)
	return d/2 + rand.N(d)
}
