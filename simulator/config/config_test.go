package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/session"
)

func TestShippedFileEqualsDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "simulator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("parse configs/simulator.yaml: %v", err)
	}
	// Parse starts from the defaults, so compare against a file-only
	// decode too: start from the zero value.
	var zero Config
	if err := decodeYAML(b, &zero); err != nil {
		t.Fatal(err)
	}
	want := Default()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configs/simulator.yaml over defaults differs:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(zero, want) {
		t.Errorf("configs/simulator.yaml does not set every default:\n got %+v\nwant %+v", zero, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("shipped config invalid: %v", err)
	}
}

func TestEveryEnvVarIsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "simulator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range EnvVars {
		if !strings.Contains(string(b), v.Name) {
			t.Errorf("%s is not mentioned in configs/simulator.yaml", v.Name)
		}
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "tokens")
	adminFile := filepath.Join(dir, "admin")
	os.WriteFile(tokFile, []byte("# comment\nfile-token\n\n"), 0o600)
	os.WriteFile(adminFile, []byte("from-file\n"), 0o600)
	tcFile := filepath.Join(dir, "tencent")
	os.WriteFile(tcFile, []byte("# SecretId SecretKey\nfile-id file-key\n"), 0o600)
	cfg, err := Load("", env(map[string]string{
		"IDGATE_SIM_LISTEN":                       "127.0.0.1:9999",
		"IDGATE_SIM_TOKENS":                       "a, b",
		"IDGATE_SIM_TOKENS_FILE":                  tokFile,
		"IDGATE_SIM_ADMIN_TOKEN_FILE":             adminFile,
		"IDGATE_SIM_BODY_LIMIT":                   "1024",
		"IDGATE_SIM_MAX_LATENCY":                  "5s",
		"IDGATE_SIM_MAX_HANG":                     "250",
		"IDGATE_SIM_RATE_LIMIT_PER_SECOND":        "10",
		"IDGATE_SIM_RATE_LIMIT_BURST":             "2",
		"IDGATE_SIM_DAILY_LIMIT_PER_ID_NUMBER":    "3",
		"IDGATE_SIM_DAILY_LIMIT_TIME_ZONE":        "UTC",
		"IDGATE_SIM_DAILY_LIMIT_MAX_TRACKED":      "10",
		"IDGATE_SIM_JOURNAL_ENABLED":              "false",
		"IDGATE_SIM_JOURNAL_SIZE":                 "7",
		"IDGATE_SIM_STATEMENT_AUTHORITY":          "qa-authority",
		"IDGATE_SIM_STATEMENT_MAX_LINES":          "0",
		"IDGATE_SIM_HTTP_READ_TIMEOUT":            "1s",
		"IDGATE_SIM_HTTP_WRITE_TIMEOUT":           "2s",
		"IDGATE_SIM_HTTP_IDLE_TIMEOUT":            "3s",
		"IDGATE_SIM_HTTP_SHUTDOWN_TIMEOUT":        "4s",
		"IDGATE_SIM_LOG_LEVEL":                    "debug",
		"IDGATE_SIM_ENCRYPTION_ENABLED":           "true",
		"IDGATE_SIM_ENCRYPTION_RSA_KEY_FILE":      "/keys/rsa.pem",
		"IDGATE_SIM_ENCRYPTION_SM2_KEY_FILE":      "/keys/sm2.pem",
		"IDGATE_SIM_ENCRYPTION_EXTRA_KEYS":        "file:/keys/old.pem,env:OLD_SM2",
		"IDGATE_SIM_ENCRYPTION_KEY_CACHE_ENTRIES": "5",
		"IDGATE_SIM_ENCRYPTION_KEY_CACHE_TTL":     "30s",
		"IDGATE_SIM_SESSIONS_TIME_SCALE":          "0.01",
		"IDGATE_SIM_SESSIONS_PUBLIC_URL":          "https://sim.example",
		"IDGATE_SIM_WEBHOOK_SECRET":               "hook-secret",
		"IDGATE_SIM_TENCENT_CREDENTIALS":          "env-id:env-key",
		"IDGATE_SIM_TENCENT_CREDENTIALS_FILE":     tcFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "127.0.0.1:9999", Tokens: []string{"a", "b", "file-token"}, TokensFile: tokFile,
		AdminToken: "from-file", AdminTokenFile: adminFile, BodyLimit: 1024,
		MaxLatency: Duration(5 * time.Second), MaxHang: Duration(250 * time.Millisecond),
		RateLimit:  RateLimit{PerSecond: 10, Burst: 2},
		DailyLimit: DailyLimit{PerIDNumber: 3, TimeZone: "UTC", MaxTracked: 10},
		Journal:    Journal{Enabled: false, Size: 7},
		Statement:  Statement{Authority: "qa-authority", MaxLines: 0},
		HTTP:       HTTP{ReadTimeout: Duration(time.Second), WriteTimeout: Duration(2 * time.Second), IdleTimeout: Duration(3 * time.Second), ShutdownTimeout: Duration(4 * time.Second)},
		Scenarios:  map[string]outcome.ScenarioSpec{},
		LogLevel:   "debug",
		Encryption: Encryption{Enabled: true, RSAKeyFile: "/keys/rsa.pem", SM2KeyFile: "/keys/sm2.pem", ExtraKeys: []string{"file:/keys/old.pem", "env:OLD_SM2"}, KeyCache: KeyCache{Entries: 5, TTL: Duration(30 * time.Second)}},
		Sessions:   session.DefaultConfig(),
		Tencent: Tencent{CredentialsFile: tcFile, Credentials: []TencentCredential{
			{SecretID: "env-id", SecretKey: "env-key"}, {SecretID: "file-id", SecretKey: "file-key"}}},
	}
	want.Sessions.TimeScale, want.Sessions.PublicURL, want.Sessions.Webhook.Secret = 0.01, "https://sim.example", "hook-secret"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"unknown key", "listn: x\n", nil, "listn"},
		{"no tokens", "tokens: []\n", nil, "tokens"},
		{"admin equals token", "admin_token: sim-token\n", nil, "admin_token"},
		{"tiny body limit", "body_limit: 10\n", nil, "body_limit"},
		{"bad duration", "max_latency: soon\n", nil, "duration"},
		{"burst zero", "rate_limit: {per_second: 5, burst: 0}\n", nil, "burst"},
		{"rate not a number", "rate_limit: {per_second: .nan, burst: 5}\n", nil, "rate_limit.per_second"},
		{"env rate not a number", "", map[string]string{"IDGATE_SIM_RATE_LIMIT_PER_SECOND": "NaN"}, "rate_limit.per_second"},
		{"bad zone", "daily_limit: {per_id_number: 1, time_zone: Mars/Olympus, max_tracked: 5}\n", nil, "time_zone"},
		{"journal size", "journal: {enabled: true, size: 0}\n", nil, "journal.size"},
		{"bad zone without daily limit", "daily_limit: {per_id_number: 0, time_zone: Mars/Olympus}\n", nil, "time_zone"},
		{"statement lines", "statement: {max_lines: -1}\n", nil, "statement.max_lines"},
		{"time scale not a number", "sessions: {time_scale: .nan}\n", nil, "sessions.time_scale"},
		{"time scale overflowing the review delay", "sessions: {time_scale: 1e308}\n", nil, "sessions.time_scale"},
		{"env time scale infinite", "", map[string]string{"IDGATE_SIM_SESSIONS_TIME_SCALE": "Inf"}, "sessions.time_scale"},
		{"statement authority", "statement: {authority: \"\"}\n", nil, "statement.authority"},
		{"bad level", "log_level: loud\n", nil, "log_level"},
		{"negative timeout", "http: {read_timeout: -1s}\n", nil, "negative"},
		{"no shutdown timeout", "http: {shutdown_timeout: 0s}\n", nil, "shutdown_timeout"},
		{"scenario for unknown token", "scenarios: {nobody: {seed: 1}}\n", nil, "nobody"},
		{"bad scenario", "scenarios: {sim-token: {fault_rate: 2}}\n", nil, "fault_rate"},
		{"env not a number", "", map[string]string{"IDGATE_SIM_BODY_LIMIT": "big"}, "IDGATE_SIM_BODY_LIMIT"},
		{"env not a bool", "", map[string]string{"IDGATE_SIM_JOURNAL_ENABLED": "perhaps"}, "IDGATE_SIM_JOURNAL_ENABLED"},
		{"duplicate tokens", "", map[string]string{"IDGATE_SIM_TOKENS": "a,a"}, "duplicate"},
		{"token outside token68", "tokens: [\"a b\"]\n", nil, "tokens[0]"},
		{"admin token outside token68", "admin_token: \"adm:in\"\n", nil, "admin_token"},
		{"key cache negative", "encryption: {key_cache: {entries: -1, ttl: 1m}}\n", nil, "encryption.key_cache.entries"},
		{"key cache too large", "encryption: {key_cache: {entries: 1000001, ttl: 1m}}\n", nil, "encryption.key_cache.entries"},
		{"key cache without ttl", "encryption: {key_cache: {entries: 10, ttl: 0s}}\n", nil, "encryption.key_cache.ttl"},
		{"secret id equals a token", "tencent: {credentials: [{secret_id: sim-token, secret_key: k}]}\n", nil, "equals an API token"},
		{"duplicate secret id", "", map[string]string{"IDGATE_SIM_TENCENT_CREDENTIALS": "a:k,a:k2"}, "duplicate"},
		{"secret id with a slash", "tencent: {credentials: [{secret_id: \"a/b\", secret_key: k}]}\n", nil, "secret_id"},
		{"empty secret key", "tencent: {credentials: [{secret_id: a, secret_key: \"\"}]}\n", nil, "secret_key"},
		{"env pair without key", "", map[string]string{"IDGATE_SIM_TENCENT_CREDENTIALS": "a"}, "SecretId:SecretKey"},
		{"key cache negative ttl", "encryption: {key_cache: {entries: 0, ttl: -1s}}\n", nil, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p, env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestLoadEmptyFileIsDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(p, nil, 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("empty file: got %+v", cfg)
	}
}

func TestLoadScenarioFromYAML(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte(`scenarios:
  sim-token:
    seed: 42
    outcomes:
      - {result: "-1", weight: 1}
      - {status: 429, weight: 1}
    latency: {distribution: uniform, min: 10ms, max: 20ms}
    fault_rate: 0.5
    faults: [{fault: hang, weight: 1}]
`), 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Scenarios["sim-token"]
	if sc.Seed != 42 || len(sc.Outcomes) != 2 || sc.Latency.Max.D() != 20*time.Millisecond || sc.Faults[0].Fault != "hang" {
		t.Errorf("scenario = %+v", sc)
	}
}

// TestScenarioExampleInShippedFile loads the commented scenario example of
// configs/simulator.yaml, so the documentation cannot rot.
func TestScenarioExampleInShippedFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "simulator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var example []string
	for i, l := range lines {
		if l != "# scenarios:" {
			continue
		}
		for _, l := range lines[i:] {
			if !strings.HasPrefix(l, "#") {
				break
			}
			example = append(example, strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "))
		}
	}
	if len(example) < 5 {
		t.Fatal("scenario example not found")
	}
	cfg, err := Parse([]byte(strings.Join(example, "\n")))
	if err != nil {
		t.Fatalf("example: %v\n%s", err, strings.Join(example, "\n"))
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example invalid: %v", err)
	}
	sc := cfg.Scenarios["sim-token"]
	if sc.Seed != 42 || len(sc.Outcomes) != 4 || sc.Latency.Distribution != "lognormal" || len(sc.Faults) != 2 {
		t.Errorf("example decoded as %+v", sc)
	}
}
