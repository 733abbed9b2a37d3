package server

import (
	"os"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
)

// TestREADMEDocumentsTencentDialect keeps the README's error mapping and
// date result table in step with the code.
func TestREADMEDocumentsTencentDialect(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "### Error mapping")
	if i < 0 {
		t.Fatal("README has no error mapping section")
	}
	mapping := doc[i:]
	mapping = mapping[:strings.Index(mapping, "\n### ")+1]
	for _, m := range tencent.ErrorMappings {
		found := false
		for line := range strings.SplitSeq(mapping, "\n") {
			if strings.Contains(line, "`"+string(m.Aggregator)+"`") {
				found = true
				cells := strings.Split(line, "|")
				if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[2]), "`"+m.Tencent+"`") {
					t.Errorf("README maps %s as %q, the code to %s", m.Aggregator, line, m.Tencent)
				}
			}
		}
		if !found {
			t.Errorf("README's error mapping lacks %s", m.Aggregator)
		}
	}
	j := strings.Index(doc, "| `Result` | meaning | billed |")
	if j < 0 {
		t.Fatal("README has no CheckIdNameDate result table")
	}
	table := doc[j:]
	table = table[:strings.Index(table, "\n\n")]
	rows := map[string]string{}
	for line := range strings.SplitSeq(table, "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 4 {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[3])
		}
	}
	for _, r := range contracts.DateResults {
		want := "no"
		if r.Billing == contracts.Billed {
			want = "yes"
		}
		if got, ok := rows[string(r.Code)]; !ok || got != want {
			t.Errorf("README's date table: %s billed %q, want %q", r.Code, got, want)
		}
	}
	if len(rows) != len(contracts.DateResults)+2 { // the header and its rule
		t.Errorf("README's date table has %d rows", len(rows))
	}
}
