package load

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/idgate/idgate/contracts"
)

type magicJSON struct {
	IDCard  string `json:"id_card"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Result  string `json:"result,omitempty"`
	Status  int    `json:"status,omitempty"`
	Fault   string `json:"fault,omitempty"`
}

// WriteData writes the k6 scripts' data file: n valid identities drawn from
// seed, and the magic identities table.
func WriteData(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := struct {
		Identities []contracts.CheckRequest `json:"identities"`
		Magic      []magicJSON              `json:"magic"`
	}{Identities: make([]contracts.CheckRequest, n)}
	for i := range d.Identities {
		d.Identities[i] = RandomRequest(r)
	}
	for _, m := range contracts.MagicIdentities {
		d.Magic = append(d.Magic, magicJSON{IDCard: m.IDCard, Name: m.Name, Outcome: m.Outcome, Result: string(m.Result), Status: m.Status, Fault: m.Fault})
	}
	if err := json.NewEncoder(w).Encode(d); err != nil {
		return fmt.Errorf("load: write data: %w", err)
	}
	return nil
}
