// Package buyers is the table of buyers. Each row names a buyer and ties
// together what its own package provides: its config block, its client
// and its sandbox emulator. The config, the wiring (client, breaker,
// timeout, caps), the readiness page and the sandbox all read the table,
// so adding a buyer is adding its package and one line to All (README,
// "Adding a buyer").
package buyers

import (
	"context"
	"net/http"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/astoria"
	astoriaemu "github.com/leadgate/leadgate/providers/astoria/emulator"
	"github.com/leadgate/leadgate/providers/casheddy"
	casheddyemu "github.com/leadgate/leadgate/providers/casheddy/emulator"
	"github.com/leadgate/leadgate/providers/emulate"
	"github.com/leadgate/leadgate/providers/lokyata"
	lokyataemu "github.com/leadgate/leadgate/providers/lokyata/emulator"
)

// All is every buyer leadgate can send to, in the order they are listed
// to an operator.
func All() []Registration {
	return []Registration{
		register("casheddy", casheddy.New, casheddyemu.New),
		register("lokyata", lokyata.New, lokyataemu.New),
		register("astoria", astoria.New, astoriaemu.New),
	}
}

// The gateway rides Astoria down its price tiers.
var _ Tiered = (*astoria.Client)(nil)

// Casheddy's document requires its subscription consent: the gateway skips
// it for a consumer who did not give it.
var _ Consenting = (*casheddy.Client)(nil)

// Consenting is a buyer whose document requires consents (the method set
// of submit.Consenting).
type Consenting interface {
	RequiredConsents() []string
}

// Buyer is a buyer's client as the gateway uses it (the method set of
// submit.Buyer, which the wiring checks).
type Buyer interface {
	Name() string
	Submit(ctx context.Context, s *providers.Submission, tier string) (providers.Decision, error)
	// Audit says which values of its exchanges an attempt's audit
	// record keeps (SPEC §6): each buyer decides for its own formats.
	Audit() *providers.Audit
}

// Tiered is a buyer a lead rides down, highest payout tier first (the
// method set of submit.Tiered).
type Tiered interface {
	Tiers() []string
}

// Config is a buyer's `providers.<name>:` block, as its package defines
// it: a struct that embeds providers.BuyerConfig inline (which gives it
// Common) and adds the buyer's own keys.
type Config interface {
	// Common is the part every buyer has: base_url, timeout, breaker,
	// caps, redirect_hosts.
	Common() *providers.BuyerConfig
	// Defaults fills what the file left empty, the defaults that depend
	// on other keys or on sandbox mode included.
	Defaults(sandbox bool)
	// Validate checks the block, naming each key relative to it
	// ("api_key", "tiers[1]"); the caller puts `providers.<name>` in
	// front. A block without base_url is off: only the shared keys are
	// checked then.
	Validate(sandbox bool) error
}

// Warner is a Config with something to tell the operator at start, such
// as a test mode left on; each warning names its key like an error.
type Warner interface {
	Warnings(sandbox bool) []string
}

// Registration is one buyer of the table.
type Registration struct {
	// Name is the buyer's key under `providers:` and in flows[].buyers.
	Name string
	// NewConfig is an empty block, for the config file to be read into.
	NewConfig func() Config
	// New makes the client of a block NewConfig made, once defaulted and
	// valid, calling through hc.
	New func(cfg Config, hc *http.Client) (Buyer, error)
	// Redacted is a copy of a block that is safe to log.
	Redacted func(Config) Config
	// Emulator is the buyer's emulator, mounted by the sandbox under
	// /sandbox/<name>/; nil when the buyer has none.
	Emulator func(emulate.Env) http.Handler
}

// block is what register asks of a buyer package's Config type C: the
// Config methods on *C, and Redacted returning a copy.
type block[C any] interface {
	*C
	Config
	Redacted() C
}

// register makes a buyer's row from its package's constructors: the
// client's New(Config, *http.Client) and the emulator's New(emulate.Env).
// The compiler checks here that the client is a Buyer and that its Config
// has what the gateway reads.
func register[C any, P block[C], B Buyer](name string, newClient func(C, *http.Client) (B, error), emulator func(emulate.Env) http.Handler) Registration {
	return Registration{
		Name:      name,
		NewConfig: func() Config { return P(new(C)) },
		New: func(cfg Config, hc *http.Client) (Buyer, error) {
			b, err := newClient(*cfg.(P), hc)
			if err != nil {
				return nil, err // not a Buyer holding a nil client
			}
			return b, nil
		},
		Redacted: func(cfg Config) Config {
			r := cfg.(P).Redacted()
			return P(&r)
		},
		Emulator: emulator,
	}
}

// Names are the buyers' names, in the table's order.
func Names() []string {
	var names []string
	for _, r := range All() {
		names = append(names, r.Name)
	}
	return names
}
