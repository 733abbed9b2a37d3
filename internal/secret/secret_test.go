package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	type holder struct {
		Token Secret `yaml:"token" json:"token"`
	}
	h := holder{Token: s}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", s, "holder", h)
	j, _ := json.Marshal(h)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %+v %#v", s, s, s, h, h), logs.String(), string(j),
	} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
	if Secret("").String() != "" {
		t.Fatal("an empty secret must print empty")
	}
}

func TestYAMLKeepsTheValue(t *testing.T) {
	type holder struct {
		Token Secret `yaml:"token,omitempty"`
	}
	b, err := yaml.Marshal(holder{Token: "hunter2"})
	if err != nil || string(b) != "token: hunter2\n" {
		t.Fatalf("%q %v", b, err)
	}
	var h holder
	if err := yaml.Unmarshal(b, &h); err != nil || h.Token != "hunter2" {
		t.Fatalf("%+v %v", h, err)
	}
	if b, _ := yaml.Marshal(holder{}); string(b) != "{}\n" {
		t.Fatalf("omitempty: %q", b)
	}
}

func TestReadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s")
	os.WriteFile(p, []byte("  from-file\n"), 0o600)
	if s, err := ReadFile(p); err != nil || s != "from-file" {
		t.Fatalf("%q %v", s.Reveal(), err)
	}
	if _, err := ReadFile(p + "-missing"); err == nil {
		t.Fatal("missing file accepted")
	}
}
