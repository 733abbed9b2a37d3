package stats

import "sync"

// APICounts is one API's tally for a credential (or in total): every API
// other than check-2e, whose answers have their own codes (the check with
// validity period, the Tencent Cloud API 3.0 actions). Outcomes counts
// each answer under its result code, its error code or its fault's name.
// Requests == Billed + NotBilled.
type APICounts struct {
	Requests  int64            `json:"requests"`
	Outcomes  map[string]int64 `json:"outcomes"`
	Billed    int64            `json:"billed"`
	NotBilled int64            `json:"not_billed"`
}

// apiBook holds the per-API tallies. They are off check-2e's hot path, so
// a mutex is enough.
type apiBook struct {
	mu     sync.Mutex
	totals map[string]*APICounts
	creds  map[string]map[string]*APICounts // credential → API → counts
}

func (a *APICounts) add(outcome string, billed bool) {
	a.Requests++
	a.Outcomes[outcome]++
	if billed {
		a.Billed++
	} else {
		a.NotBilled++
	}
}

func tally(m map[string]*APICounts, api string) *APICounts {
	c := m[api]
	if c == nil {
		c = &APICounts{Outcomes: map[string]int64{}}
		m[api] = c
	}
	return c
}

// CountAPI counts one answer of api for the credential (a token or a
// Tencent SecretId; "" for a request no credential was found for, which
// counts in the totals only). The caller also counts it in the credential's
// Counter, so totals stay the sum of every API.
func (b *Book) CountAPI(cred, api, outcome string, billed bool) {
	b.apis.mu.Lock()
	defer b.apis.mu.Unlock()
	if b.apis.totals == nil {
		b.apis.totals, b.apis.creds = map[string]*APICounts{}, map[string]map[string]*APICounts{}
	}
	tally(b.apis.totals, api).add(outcome, billed)
	if _, known := b.tokens[cred]; !known {
		return
	}
	m := b.apis.creds[cred]
	if m == nil {
		m = map[string]*APICounts{}
		b.apis.creds[cred] = m
	}
	tally(m, api).add(outcome, billed)
}

// apiSnapshot copies the per-API tallies of cred ("" for the totals).
func (b *Book) apiSnapshot(cred string) map[string]APICounts {
	b.apis.mu.Lock()
	defer b.apis.mu.Unlock()
	m := b.apis.totals
	if cred != "" {
		m = b.apis.creds[cred]
	}
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]APICounts, len(m))
	for k, v := range m {
		c := *v
		c.Outcomes = make(map[string]int64, len(v.Outcomes))
		for o, n := range v.Outcomes {
			c.Outcomes[o] = n
		}
		out[k] = c
	}
	return out
}

func (b *Book) resetAPIs() {
	b.apis.mu.Lock()
	b.apis.totals, b.apis.creds = nil, nil
	b.apis.mu.Unlock()
}
