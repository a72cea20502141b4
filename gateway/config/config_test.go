package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/astoria"
	"github.com/leadgate/leadgate/providers/casheddy"
)

const valid = `
server: { session_secret: "${SECRET}" }
storage: { encryption_key: "${KEY:-MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}" }
providers:
  casheddy: { base_url: "https://dev.casheddy.es/wp-json/api", username: "${CASHEDDY_USERNAME}", password: "${CASHEDDY_PASSWORD}" }
flows:
  - { name: es, form: es, currency: EUR, buyers: [casheddy], default: true }
`

// withProvider adds one providers: entry (a YAML flow mapping) to valid.
func withProvider(entry string) string {
	return strings.Replace(valid, "providers:\n", "providers:\n  "+entry+"\n", 1)
}

// block is the block of the buyer called name, as its own package's type.
func block[T any](t *testing.T, cfg *Config, name string) *T {
	t.Helper()
	b, ok := any(cfg.Providers.Buyer(name)).(*T)
	if !ok {
		t.Fatalf("providers.%s: got %T", name, cfg.Providers.Buyer(name))
	}
	return b
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var secrets = map[string]string{"SECRET": "0123456789abcdef0123456789abcdef", "CASHEDDY_USERNAME": "user", "CASHEDDY_PASSWORD": "pa$$: #word"}

func TestExpansionAndDefaults(t *testing.T) {
	cfg, err := Parse([]byte(valid), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if got := block[casheddy.Config](t, cfg, "casheddy").Password; got != "pa$$: #word" {
		t.Errorf("password: got %q (a value with $, : and # must survive expansion)", got)
	}
	if len(cfg.EncryptionKey()) != 32 {
		t.Error("the ${NAME:-default} default was not used")
	}
	if cfg.Server.Addr != ":8080" || cfg.Cashcat.Timeout != 3*time.Second || cfg.Cashcat.CacheTTL != 30*time.Minute ||
		cfg.Flows[0].Deadline != 90*time.Second || cfg.Flows[0].Locale != "es" || cfg.Storage.Retention != 720*time.Hour ||
		cfg.Redis.Timeout != 250*time.Millisecond {
		t.Errorf("defaults: got %+v", cfg)
	}
	if a := block[astoria.Config](t, cfg, "astoria"); a.TimeLimit != 60*time.Second || a.Timeout != 75*time.Second || strings.Join(a.Tiers, ",") != "ALL" || a.LeadMode != nil {
		t.Errorf("astoria: time_limit %v, timeout %v, tiers %v, lead_mode %v; want 60s, 75s, [ALL], unset", a.TimeLimit, a.Timeout, a.Tiers, a.LeadMode)
	}
	for name, want := range map[string]time.Duration{"casheddy": 30 * time.Second, "lokyata": 30 * time.Second, "astoria": 75 * time.Second} {
		c := cfg.Providers.Buyer(name).Common()
		if c.Timeout != want || c.Breaker != (providers.BreakerConfig{Failures: 5, OpenFor: 30 * time.Second}) {
			t.Errorf("%s: timeout %v, breaker %+v; want %v, 5 failures, open 30s", name, c.Timeout, c.Breaker, want)
		}
	}
	if cfg.Providers.Cashfin.Timeout != 10*time.Second {
		t.Errorf("cashfin timeout: got %v, want 10s", cfg.Providers.Cashfin.Timeout)
	}
}

func TestExpandedNumbersAndNumericPasswords(t *testing.T) {
	y := valid + "  - { name: us, form: es, currency: USD, buyers: [casheddy], deadline: '${DEADLINE}' }\nsubmission: { workers: \"${WORKERS}\" }\n"
	m := map[string]string{"DEADLINE": "45s", "WORKERS": "3"}
	for k, v := range secrets {
		m[k] = v
	}
	m["CASHEDDY_PASSWORD"] = "123456"
	cfg, err := Parse([]byte(y), env(m))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Submission.Workers != 3 || cfg.Flows[1].Deadline != 45*time.Second || block[casheddy.Config](t, cfg, "casheddy").Password != "123456" {
		t.Errorf("got workers %d, deadline %v, password %q", cfg.Submission.Workers, cfg.Flows[1].Deadline, block[casheddy.Config](t, cfg, "casheddy").Password)
	}
}

// An unset ${NAME} is as if the key were absent, in a flow mapping too
// (where YAML would otherwise write the empty value as a string).
func TestUnsetVariableInAFlowMappingKeepsTheDefault(t *testing.T) {
	cfg, err := Parse([]byte(valid+"submission: { workers: \"${WORKERS}\", wait: '${WAIT}' }\n"), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Submission.Workers != 8 || cfg.Submission.Wait != 5*time.Second {
		t.Errorf("got workers %d, wait %v; want the defaults 8 and 5s", cfg.Submission.Workers, cfg.Submission.Wait)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown buyer", strings.Replace(valid, "buyers: [casheddy]", "buyers: [lokyta]", 1), `flows[0].buyers[0]: unknown buyer "lokyta"`},
		{"unconfigured buyer", strings.Replace(valid, "buyers: [casheddy]", "buyers: [lokyata]", 1), `flows[0].buyers[0]: buyer "lokyata" is not configured under providers.lokyata`},
		{"no buyers", strings.Replace(valid, "buyers: [casheddy]", "buyers: []", 1), "flows[0].buyers: a flow needs at least one buyer"},
		{"two defaults", valid + "  - { name: us, form: us, currency: USD, buyers: [casheddy], default: true }\n", "flows: 2 flows are marked default"},
		{"bad form", strings.Replace(valid, "form: es", "form: fr", 1), `flows[0].form: unknown form "fr"`},
		{"flow name with a colon", strings.Replace(valid, "name: es,", `name: "es:x",`, 1), `flows[0].name: "es:x": letters, digits, - and _ only`},
		{"flow name with a slash", strings.Replace(valid, "name: es,", `name: "es/b",`, 1), `flows[0].name: "es/b": letters, digits, - and _ only`},
		{"bad rate", valid + "rate_limits: { landing: lots }\n", `rate_limits.landing: "lots" is not a rate`},
		{"bad match key", strings.Replace(valid, "default: true", "match: { utm_camp: [x] }", 1), "flows[0].match.utm_camp: unknown key"},
		{"short key", strings.Replace(valid, "${KEY:-MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}", "c2hvcnQ=", 1), "storage.encryption_key: must be 32 bytes"},
		{"typo in a key", valid + "cashcat: { timout: 3s }\n", "field timout not found"},
		{"relative url outside sandbox", valid + "cashcat: { base_url: /sandbox/cashcat }\n", "cashcat.base_url: \"/sandbox/cashcat\" is a path"},
		{"unknown tier", withProvider("astoria: { base_url: 'https://a.example', vendor_id: '76', tiers: [tier150, tier99] }"), `providers.astoria.tiers[1]: unknown tier "tier99"`},
		{"ALL among tiers", withProvider("astoria: { base_url: 'https://a.example', vendor_id: '76', tiers: [ALL, tier50] }"), "providers.astoria.tiers: ALL already rides every tier"},
		{"short time limit", withProvider("astoria: { base_url: 'https://a.example', vendor_id: '76', time_limit: 30s }"), "providers.astoria.time_limit: must be whole seconds and at least 60s"},
		{"timeout under time limit", withProvider("astoria: { base_url: 'https://a.example', vendor_id: '76', time_limit: 60s, timeout: 30s }"), "providers.astoria.timeout: must be longer than time_limit"},
		{"lokyata test type", withProvider("lokyata: { base_url: 'https://l.example', api_key: k, test_type: Maybe }"), `providers.lokyata.test_type: want Accept, Deny or Review, got "Maybe"`},
		{"typo in a buyer's key", withProvider("lokyata: { base_url: 'https://l.example', api_kye: k }"), "field api_kye not found in type lokyata.Config"},
		{"typo in a key every buyer has", withProvider("astoria: { base_url: 'https://a.example', vendor_id: '76', lead_mode: 1, timout: 90s }"), "field timout not found in type astoria.Config"},
		{"typo in the CRM's key", withProvider("cashfin: { enabled: true, base_url: 'https://c.example', client_secert: s }"), "field client_secert not found in type cashfin.Config"},
		{"unknown provider", withProvider("lokyta: { base_url: 'https://l.example' }"), "field lokyta not found in type config.Providers"},
		{"buyer url a path outside sandbox", withProvider("lokyata: { base_url: /sandbox/lokyata, api_key: k }"), `providers.lokyata.base_url: "/sandbox/lokyata" is a path`},
		{"buyer url not http", withProvider("astoria: { base_url: 'ftp://a.example', vendor_id: '76', lead_mode: 1 }"), `providers.astoria.base_url: "ftp://a.example" is not an absolute http(s) url`},
		{"CRM without url", withProvider("cashfin: { enabled: true, client_secret: s }"), "providers.cashfin.base_url: empty"},
		{"CRM without workers", withProvider("cashfin: { enabled: true, base_url: 'https://c.example', client_secret: s, workers: -1 }"), "providers.cashfin.workers: must be from 1 to 256"},
		{"CRM with a crowd of workers", withProvider("cashfin: { enabled: true, base_url: 'https://c.example', client_secret: s, workers: 1000 }"), "providers.cashfin.workers: must be from 1 to 256"},
		{"caps time zone", withProvider("lokyata: { base_url: 'https://l.example', api_key: k, caps: { timezone: Mars/Olympus } }"), `providers.lokyata.caps.timezone: unknown time zone "Mars/Olympus"`},
		{"negative caps", withProvider("astoria: { base_url: 'https://a.example', vendor_id: '76', lead_mode: 1, caps: { daily: -1 } }"), "providers.astoria.caps: caps cannot be negative"},
		{"short lease", valid + "submission: { lease: 1s }\n", "submission.lease: must be at least 3s"},
		{"negative redis timeout", valid + "redis: { timeout: -1s }\n", "redis.timeout: must be positive"},
		{"access log sampled by zero", strings.Replace(valid, "server: {", "server: { access_log_sample: 0,", 1), "server.access_log_sample: must be 1"},
		{"bad fallback", strings.Replace(valid, "default: true", "default: true, fallback_url: 'javascript:alert(1)'", 1), "flows[0].fallback_url"},
		{"bad browser rate", valid + "rate_limits: { prefill_browser: 30/m }\n", `rate_limits.prefill_browser: "30/m" is not a rate`},
		{"bad budget", valid + "cashcat: { budget_per_ip: lots }\n", `cashcat.budget_per_ip: "lots" is not a rate`},
		{"negative daily budget", valid + "cashcat: { daily_budget: -1 }\n", "cashcat.daily_budget: cannot be negative"},
		{"origin with a path", valid + "prefill_api: { allowed_origins: ['https://lender.example/form'] }\n", "prefill_api.allowed_origins[0]"},
		{"no campaigns", valid + "funnel: { max_campaigns_per_day: 0 }\n", "funnel.max_campaigns_per_day: must be at least 1"},
		{"draft kept past its session", valid + "drafts: { ttl: 48h }\n", "drafts.ttl: must be positive and at most 24h"},
		{"bad draft rate", valid + "rate_limits: { draft: lots }\n", `rate_limits.draft: "lots" is not a rate`},
		{"short session secret", strings.Replace(valid, `"${SECRET}"`, `"0123456789abcdef0123456789abcde"`, 1), "server.session_secret: must be at least 32 characters"},
		{"short prefill key", valid + "prefill_api: { keys: ['lender-key-0123456789', 'lender-key-0123'] }\n", "prefill_api.keys[1]: too short"},
		{"trusted proxy not an address", strings.Replace(valid, "server: {", "server: { trusted_proxies: ['10.0.0.0/8', 'lb.internal'],", 1), `server.trusted_proxies[1]: "lb.internal" is not a CIDR or IP`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), env(secrets))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCredentialsAreNeverDefaulted(t *testing.T) {
	// No environment at all, outside sandbox mode: every secret is named.
	_, err := Parse([]byte(valid), env(nil))
	for _, want := range []string{"server.session_secret", "providers.casheddy: username and password are required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	// Every provider's credential, from a variable that is not set.
	all := withProvider("lokyata: { base_url: 'https://l.example', api_key: '${LOKYATA_API_KEY}' }\n" +
		"  astoria: { base_url: 'https://a.example', vendor_id: '${ASTORIA_VENDOR_ID}', lead_mode: 1 }\n" +
		"  cashfin: { enabled: true, base_url: 'https://c.example', client_secret: '${CASHFIN_CLIENT_SECRET}' }")
	_, err = Parse([]byte(all), env(secrets))
	for _, want := range []string{"providers.lokyata.api_key: required", "providers.astoria.vendor_id: required", "providers.cashfin.client_secret: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	noKey := strings.Replace(valid, "${KEY:-MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}", "${KEY}", 1)
	if _, err := Parse([]byte(noKey), env(secrets)); err == nil || !strings.Contains(err.Error(), "storage.encryption_key: missing") {
		t.Errorf("got %v", err)
	}
	if _, err := Parse([]byte(noKey+"sandbox: { enabled: true }\n"), env(secrets)); err != nil {
		t.Errorf("sandbox mode without a key: got %v", err)
	}
}

// Astoria's lead_mode 0 sells nothing: outside sandbox mode it must be
// written, never taken as 0 because the line (or its variable) is missing.
func TestAstoriaLeadModeIsNeverDefaulted(t *testing.T) {
	withAstoria := func(mode string) string {
		return withProvider("astoria: { base_url: 'https://api.astoriacompany.com', vendor_id: '76'" + mode + " }")
	}
	env := env(map[string]string{"SECRET": secrets["SECRET"], "CASHEDDY_USERNAME": "u", "CASHEDDY_PASSWORD": "p"})
	for _, tc := range []struct {
		name, yaml string
		want       int    // the lead mode, when accepted
		err        string // the error, when refused
	}{
		{"absent", withAstoria(""), 0, "providers.astoria.lead_mode: required outside sandbox mode"},
		{"from an unset variable", withAstoria(", lead_mode: '${ASTORIA_LEAD_MODE}'"), 0, "providers.astoria.lead_mode: required outside sandbox mode"},
		{"live", withAstoria(", lead_mode: 1"), 1, ""},
		{"test, written out", withAstoria(", lead_mode: 0"), 0, ""},
		{"neither", withAstoria(", lead_mode: 2"), 0, "providers.astoria.lead_mode: want 0 (test) or 1 (live), got 2"},
		{"absent in sandbox mode", withAstoria("") + "sandbox: { enabled: true }\n", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml), env)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("got %v, want an error containing %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Errorf("got %v", err)
			case tc.err == "" && (block[astoria.Config](t, cfg, "astoria").LeadMode == nil || *block[astoria.Config](t, cfg, "astoria").LeadMode != tc.want):
				t.Errorf("lead_mode: got %v, want %d", block[astoria.Config](t, cfg, "astoria").LeadMode, tc.want)
			}
		})
	}
}

func TestRedactedHidesEverySecret(t *testing.T) {
	y := withProvider("lokyata: { base_url: 'https://l.example', api_key: 'lokyata-key-secret' }\n"+
		"  cashfin: { enabled: true, base_url: 'https://c.example', client_secret: 'cashfin-secret' }") +
		"redis: { url: 'redis://:hunter2@redis:6379/0' }\nprefill_api: { keys: ['lender-key-0123456789'] }\n" +
		"admin: { password: 'admin-secret' }\n"
	y = strings.Replace(y, "storage: {", "storage: { dsn: 'postgres://lg:pg-secret@db/lg', old_encryption_keys: ['b2xkLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc='],", 1)
	cfg, err := Parse([]byte(y), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.RedactedYAML()
	for _, secret := range []string{secrets["SECRET"], "pa$$: #word", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "hunter2", "lender-key-0123456789",
		"lokyata-key-secret", "cashfin-secret", "admin-secret", "pg-secret", "b2xkLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc="} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted config shows %q", secret)
		}
	}
	if !strings.Contains(out, "timeout: 3s") || !strings.Contains(out, "session_secret: '***'") ||
		!strings.Contains(out, "api_key: '***'") || !strings.Contains(out, "client_secret: '***'") {
		t.Errorf("redacted config is not readable YAML:\n%s", out)
	}
	if block[casheddy.Config](t, cfg, "casheddy").Password != "pa$$: #word" {
		t.Error("redacting changed the config itself")
	}
}

// Secrets an operator writes into URLs, as an attacker's pass found them
// in the start-up log: a proxy's password, a DSN's ?password=, a base
// URL's user and password, a
// postback's token in its path and its user.
func TestRedactedHidesSecretsInURLs(t *testing.T) {
	// A review's cases: a postback URL with no path, a slash in its query,
	// an @ in its password, a fragment, a literal beside a macro, a bare
	// word; a JSON body; a proxy without a scheme; and a config error
	// quoting a URL.
	for _, tc := range []struct{ entry, want string }{
		{"{ name: a, on: [accepted], url: 'https://track.example?token=PBSECRET1&id={application_id}' }", "https://track.example?token=***&id={application_id}"},
		{"{ name: a, on: [accepted], url: 'https://track.example/pb?id={application_id}&r=/x&token=PBSECRET2' }", "https://track.example/***?id={application_id}&r=***&token=***"},
		{"{ name: a, on: [accepted], url: 'https://u:p@ssPBSECRET5@track.example/pb?id={application_id}' }", "https://***@track.example/***?id={application_id}"},
		{"{ name: a, on: [accepted], url: 'https://track.example/pb?id={application_id}&tok=PBSECRET3{gclid}&PBSECRET4#PBSECRET6' }", "https://track.example/***?id={application_id}&tok=***&***#***"},
		{"{ name: a, on: [accepted], method: POST, body_type: json, url: 'https://track.example/pb', body: '{\"api_key\":\"JSONSECRET\",\"n\":12345678,\"id\":\"{application_id}\"}' }", `{"api_key":"***","n":"***","id":"{application_id}"}`},
		// A flat JSON object is JSON, not an unknown macro; arrays too.
		{"{ name: a, on: [accepted], method: POST, body_type: json, url: 'https://track.example/pb?id={application_id}', body: '{\"api_key\":\"JSONSECRET11\",\"ids\":[\"ARRSECRET9\",1,\"{gclid}\"]}' }", `{"api_key":"***","ids":["***","***","{gclid}"]}`},
	} {
		cfg, err := Parse([]byte(valid+"postbacks:\n  - "+tc.entry+"\n"), env(secrets))
		if err != nil {
			t.Fatal(err)
		}
		out := cfg.RedactedYAML()
		if strings.Contains(out, "SECRET") || !strings.Contains(out, tc.want) {
			t.Errorf("%s: logged as\n%s\nwant %s", tc.entry, out[strings.Index(out, "postbacks:"):], tc.want)
		}
	}
	cfg, err := Parse([]byte(strings.Replace(withProvider("lokyata: { base_url: 'https://l.example/v1?access=ACCSECRET&code=CODESECRET&s=SSECRET', api_key: 'k' }"),
		"default: true }", "default: true, fallback_url: 'https://lender.example/sorry?aff_token=FALLBACKSECRET' }", 1)+
		"cashcat: { egress_proxy: 'proxyuser:PROXYSECRET@10.0.0.1:3128' }\n"), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if out := cfg.RedactedYAML(); strings.Contains(out, "SECRET") || !strings.Contains(out, "***@10.0.0.1:3128") {
		t.Errorf("a proxy without a scheme is logged as %s", out[strings.Index(out, "egress_proxy"):][:60])
	}
	for _, bad := range []string{withProvider("lokyata: { base_url: 'htps://lkuser:LKSECRET@l.example/?api_key=LKQUERY', api_key: 'k' }"),
		valid + "postbacks:\n  - { name: a, on: [accepted], url: 'http://u:PBSECRET7@ads.example/pb?id={application_id}&k=PBSECRET8' }\n"} {
		if _, err := Parse([]byte(bad), env(secrets)); err == nil || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "LKQUERY") {
			t.Errorf("config error: %v, want one that quotes no secret", err)
		}
	}

	y := withProvider("lokyata: { base_url: 'https://lkuser:LKSECRET@l.example/api?api_key=LKQUERY&v=2', api_key: 'k' }\n"+
		"  cashfin: { enabled: true, base_url: 'https://cfuser:CFSECRET@c.example/crm', client_secret: 's' }") +
		"cashcat: { base_url: 'https://cc.example/v1', egress_proxy: 'http://proxyuser:PROXYSECRET@10.0.0.1:3128' }\n" +
		"redis: { url: 'redis://r.example:6379/0?password=REDISQUERY' }\n" +
		"postbacks:\n  - { name: src, on: [accepted], url: 'https://pbuser:PBSECRET@track.example/pb/TOKENINPATH/{gclid}?txn={application_id}&k=PBQUERY' }\n"
	for _, dsn := range []string{
		"postgres://leadgate@db.example:5432/lg?password=PGQUERY&sslmode=disable",
		"postgres://leadgate:PGPASS@db.example:5432/lg?sslmode=disable",
	} {
		cfg, err := Parse([]byte(strings.Replace(y, "storage: {", "storage: { dsn: \""+dsn+"\",", 1)), env(secrets))
		if err != nil {
			t.Fatal(err)
		}
		out := cfg.RedactedYAML()
		for _, secret := range []string{"LKSECRET", "LKQUERY", "CFSECRET", "PROXYSECRET", "REDISQUERY", "PBSECRET", "TOKENINPATH", "PBQUERY", "PGQUERY", "PGPASS"} {
			if strings.Contains(out, secret) {
				t.Errorf("dsn %q: the logged config shows %q:\n%s", dsn, secret, out)
			}
		}
		// What is left still says where each thing is.
		for _, place := range []string{"https://lkuser:***@l.example/api?api_key=***&v=***", "http://proxyuser:***@10.0.0.1:3128", "https://cc.example/v1",
			"https://***@track.example/***/***/{gclid}?txn={application_id}&k=***", "db.example", "sslmode=***"} {
			if !strings.Contains(out, place) {
				t.Errorf("dsn %q: the logged config lacks %q:\n%s", dsn, place, out)
			}
		}
	}
}

func TestRepositoryConfigLoads(t *testing.T) {
	cfg, err := Load("../../config.yaml", env(nil))
	if err != nil {
		t.Fatalf("the repository's config.yaml does not load: %v", err)
	}
	if !cfg.Sandbox.Enabled || !strings.HasPrefix(cfg.Cashcat.BaseURL, "/sandbox/") {
		t.Error("the repository's config.yaml must run against the built-in sandbox")
	}
}

// The replica config written inline in docker-compose.yml loads: the
// compose file cannot drift from what leadgate accepts.
func TestComposeReplicaConfigLoads(t *testing.T) {
	raw, err := os.ReadFile("../../cmd/leadgate/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]any `yaml:"services"`
		Configs  map[string]struct {
			Content string `yaml:"content"`
		} `yaml:"configs"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, svc := range []string{"leadgate-1", "leadgate-2", "leadgate-3", "postgres", "redis", "nginx"} {
		if compose.Services[svc] == nil {
			t.Errorf("docker-compose.yml lacks service %s", svc)
		}
	}
	// Compose turns $$ into $; leadgate then expands ${NAME}.
	content := strings.ReplaceAll(compose.Configs["replica"].Content, "$$", "$")
	cfg, err := Parse([]byte(content), env(map[string]string{
		"LEADGATE_SESSION_SECRET": "0123456789abcdef0123456789abcdef0123", "LEADGATE_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"LEADGATE_ADMIN_PASSWORD": "pw", "POSTGRES_PASSWORD": "0a1b2c3d",
	}))
	if err != nil {
		t.Fatalf("the replicas' config does not load: %v", err)
	}
	if !strings.HasPrefix(cfg.Storage.DSN, "postgres://leadgate:0a1b2c3d@postgres:5432/") || cfg.Redis.URL != "redis://redis:6379/0" {
		t.Errorf("replicas must share PostgreSQL and Redis: dsn %q, redis %q", redactDSN(cfg.Storage.DSN), cfg.Redis.URL)
	}
}

// Allowed origins are kept as a browser writes them in its Origin header,
// so the gateway can compare them exactly.
func TestAllowedOriginsAreWrittenAsBrowsersSendThem(t *testing.T) {
	y := valid + "prefill_api: { allowed_origins: ['HTTPS://Lender.Example:443/', 'http://localhost:8080', 'http://[::1]:80'] }\n"
	cfg, err := Parse([]byte(y), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://lender.example", "http://localhost:8080", "http://[::1]"}
	if got := cfg.PrefillAPI.AllowedOrigins; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
	if cfg.RateLimits.PrefillBrowser != "30-M" || cfg.Cashcat.BudgetPerIP != "120-H" || cfg.Cashcat.UnknownBudgetPerIP != "10-H" ||
		cfg.Cashcat.DailyBudget != 0 || cfg.Funnel.MaxCampaignsPerDay != 500 || cfg.Drafts.TTL != 24*time.Hour || cfg.RateLimits.Draft != "120-M" {
		t.Errorf("defaults: prefill_browser %q, budgets %q %q %d, campaigns %d, drafts %v %q", cfg.RateLimits.PrefillBrowser,
			cfg.Cashcat.BudgetPerIP, cfg.Cashcat.UnknownBudgetPerIP, cfg.Cashcat.DailyBudget, cfg.Funnel.MaxCampaignsPerDay, cfg.Drafts.TTL, cfg.RateLimits.Draft)
	}
}

// A postback is refused, naming its key, with an unknown macro, without
// the application id every receiver needs to tell a repeat, or with a URL
// anyone on the way could read (http to another machine).
func TestPostbackConfigErrors(t *testing.T) {
	pb := func(entry string) string { return valid + "postbacks:\n  - " + entry + "\n" }
	tests := []struct{ name, yaml, want string }{
		{"unknown macro", pb("{ name: ads, on: [accepted], url: 'https://ads.example/pb?c={gclid}&p={payout}&t={application_id}' }"),
			"postbacks[0]: unknown macro {payout}"},
		{"no application id", pb("{ name: ads, on: [accepted], url: 'https://ads.example/pb?c={gclid}' }"),
			"postbacks[0]: the url or body must carry {application_id}"},
		{"http elsewhere", pb("{ name: ads, on: [accepted], url: 'http://ads.example/pb?t={application_id}' }"),
			"postbacks[0]: url \"http://ads.example/***?t=***\": http is allowed only to a loopback address"},
		{"unknown event", pb("{ name: ads, on: [sold], url: 'https://ads.example/pb?t={application_id}' }"),
			`postbacks[0].on: unknown event "sold"`},
		{"body on GET", pb("{ name: ads, on: [accepted], url: 'https://ads.example/pb', body: 't={application_id}' }"),
			"postbacks[0]: a body needs method POST"},
		{"bad match key", pb("{ name: ads, on: [accepted], match: { source: [x] }, url: 'https://ads.example/pb?t={application_id}' }"),
			"postbacks[0].match.source: unknown key"},
		{"unknown dedupe key", strings.Replace(valid, "default: true", "default: true, dedupe: { window: 720h, keys: [ssn, phone] }", 1),
			`flows[0].dedupe.keys: unknown key "phone"`},
		{"bad cost currency", valid + "cashcat: { cost_per_call: { amount: 0.05, currency: usd } }\n", "cashcat.cost_per_call.currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), env(secrets))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A configured click parameter is a macro; http to this machine is fine.
	ok := valid + "attribution: { click_params: { cashcat.ph: [click_id] } }\npostbacks:\n  - { name: cc, on: [accepted, redirected], method: POST, url: 'http://127.0.0.1:9999/pb', body: 'click={click_id}&txn={application_id}&key=s3cret' }\n"
	cfg, err := Parse([]byte(ok), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.RedactedYAML(); strings.Contains(got, "s3cret") || !strings.Contains(got, "click={click_id}&txn={application_id}&key=***") {
		t.Errorf("the logged config shows a postback's literal values:\n%s", got)
	}
	if cfg.Postbacks[0].Timeout != 10*time.Second || cfg.Postbacks[0].GiveUpAfter != 72*time.Hour {
		t.Errorf("defaults: %+v", cfg.Postbacks[0])
	}
}
