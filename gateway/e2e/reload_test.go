package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/testkit"
)

// TestReloadNamesIgnoredSettings: a SIGHUP after settings that only a
// restart applies changed in the file logs them by name; the admin reload
// answers with them too. The command-line listeners are not reported: they
// win over the file on every load.
func TestReloadNamesIgnoredSettings(t *testing.T) {
	s := startSim(t)
	g := startGateway(t, s.URL, 0, "acme-key")

	b, err := os.ReadFile(g.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("timezone: Asia/Shanghai\n"), []byte("timezone: UTC\nmax_body_bytes: 1024\n"), 1)
	if err := os.WriteFile(g.cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.Output(), `"ignored":["timezone","max_body_bytes"]`) {
		if time.Now().After(deadline) {
			t.Fatalf("the reload's log does not name the ignored settings:\n%s", g.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}

	status, text := testkit.Call(t, "POST", g.AdminURL+"/admin/reload", gwAdminToken, "")
	body := []byte(text)
	var answer struct {
		Reloaded bool     `json:"reloaded"`
		Ignored  []string `json:"ignored"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || status != 200 {
		t.Fatalf("reload: %d %s", status, body)
	}
	if !answer.Reloaded || !slices.Equal(answer.Ignored, []string{"timezone", "max_body_bytes"}) {
		t.Fatalf("answer %s, want ignored [timezone max_body_bytes]", body)
	}
	// The running body limit stays the default 64 KiB until a restart.
	big := body2k()
	if r := testkit.Check(t, g.URL, "acme-key", big); r.Status != 200 {
		t.Fatalf("a 2 KiB body after the ignored change: %+v", r)
	}
}

// body2k is a valid check request padded past 1 KiB with white space.
func body2k() string {
	b := checkBody(people[0].name, people[0].id)
	return b[:len(b)-1] + strings.Repeat(" ", 2048) + "}"
}
