package providers

import "time"

// Status is where an application is in its life.
type Status string

// The statuses of an application.
const (
	StatusPending  Status = "pending"
	StatusAccepted Status = "accepted"
	StatusDeclined Status = "declined"
	// StatusNeedsFix: a buyer asked the consumer to correct fields.
	StatusNeedsFix Status = "needs_fix"
)

// The outcomes of an attempt beyond a buyer's own answer (Accepted,
// Declined, NeedsFix).
const (
	// Started: the request is about to leave or in flight.
	Started Outcome = "started"
	// Failed: the buyer could not be reached, failed or answered
	// something unreadable.
	Failed Outcome = "error"
	// InDoubt: the process stopped while the request may have reached the
	// buyer. It is never re-sent to that buyer.
	InDoubt Outcome = "in_doubt"
	// Skipped: the buyer was not posted at all (at a cap).
	Skipped Outcome = "skipped"
)

// CRMState is where an application's mirror to the CRM is.
type CRMState string

// The states of the CRM mirror; "" is none (not decided, or mirroring off).
const (
	CRMPending CRMState = "pending"
	CRMDone    CRMState = "done"
	// CRMErased: the personal data was erased (retention) before the CRM
	// could be reached; nothing is left to mirror.
	CRMErased CRMState = "erased"
)

// Record is an application as leadgate keeps it, without its personal
// data: where it is in its life, how it ended, and its attribution.
type Record struct {
	ID          string
	SessionHash string
	Flow        string
	Form        string
	Currency    string
	Status      Status
	RedirectURL string
	// RedirectLost: the buyer's redirect URL was kept sealed and does not
	// open any more (the key that sealed it is gone); RedirectURL is "".
	RedirectLost bool
	Buyer        string
	Revenue      float64
	Reason       string
	Attribution  Attribution // the utm_* part; the referrer is sealed
	Prefilled    bool
	CreatedAt    time.Time
	DecidedAt    time.Time
	DeadlineAt   time.Time
	Erased       bool
	// The Cashfin mirror: its state, the CRM's lead id, how many tries,
	// and the last error.
	CRMStatus CRMState
	CRMRef    string
	CRMTries  int
	CRMError  string
}

// Attempt is one post of an application to a buyer (or a buyer passed
// over): the audit record of SPEC §6.
type Attempt struct {
	Buyer       string
	Tier        string
	Seq         int
	StartedAt   time.Time
	FinishedAt  time.Time
	Latency     time.Duration
	Outcome     Outcome
	Price       float64
	Reason      string
	RedirectURL string
	// Final: a decline no lower tier of this buyer can change.
	Final bool
	// Retry: the failure provably did not reach the buyer, so the post
	// may be repeated; Tries counts the posts.
	Retry bool
	Tries int
	// Exchange is the request and the answer, masked; read only for the
	// audit page (Store.Exchanges), not with the attempts.
	Exchange Exchange
}

// Verdict is how an application ended.
type Verdict struct {
	Status      Status
	RedirectURL string
	Buyer       string
	Revenue     float64
	Reason      string
	FieldErrors map[string]string
	// CRM: the decided application is to be mirrored to the CRM.
	CRM bool
	// Postbacks are the postbacks to send on this verdict, by name.
	Postbacks []string
}

// PostbackState is where one postback's delivery is.
type PostbackState string

// The states of a postback.
const (
	PostbackPending   PostbackState = "pending"
	PostbackDelivered PostbackState = "delivered"
	// PostbackFailed: given up (a 4xx, the postback no longer configured,
	// the personal data erased, or give_up_after passed).
	PostbackFailed PostbackState = "failed"
)

// Postback is one conversion report to a traffic source: which postback,
// on which event, and how its delivery went (no URL: it can carry click
// ids).
type Postback struct {
	Name, Event string
	State       PostbackState
	Tries       int
	LastStatus  int
	LastError   string
	CreatedAt   time.Time
	DeliveredAt time.Time
}
