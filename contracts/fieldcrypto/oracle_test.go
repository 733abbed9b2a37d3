package fieldcrypto

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestKeyCacheIsNoPaddingOracle probes a cache-enabled receiver as a
// padding-oracle attacker would: a captured request is replayed with a
// tampered IV (CBC) or tag (GCM) whose decryption either succeeds ("good":
// valid padding, valid UTF-8, a correct tag) or fails ("bad"), and then the
// untampered request is sent again with the same ciphertext_blob. If
// whether the data key is cached depended on the probe's outcome, the
// follow-up after a good probe would skip the private-key operation and the
// one after a bad probe would not. The test compares the two follow-up time
// distributions, interleaved in random order over many fresh blobs, with a
// Mann–Whitney rank statistic: the probability that a follow-up after a bad
// probe is slower than one after a good probe. An oracle pushes it towards
// 1 (every follow-up after a bad probe pays a full unwrap, 10 to 1000
// times a cache hit); without one it stays near 0.5, whatever the
// machine's load, because the two conditions alternate.
func TestKeyCacheIsNoPaddingOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			fx := newFixture(t, NewKeyCache(DefaultCacheEntries, DefaultCacheTTL))
			const rounds = 150 // per condition
			var good, bad []time.Duration
			for range rounds {
				for _, tamperBad := range shuffled() {
					d := probeThenFollow(t, fx, alg, tamperBad)
					if tamperBad {
						bad = append(bad, d)
					} else {
						good = append(good, d)
					}
				}
			}
			auc := rankStatistic(bad, good)
			t.Logf("follow-up median after good probe %v, after bad probe %v; P(bad slower) = %.3f",
				median(good), median(bad), auc)
			if auc > 0.75 || auc < 0.25 {
				t.Fatalf("the follow-up's timing tells good from bad probes (P(bad slower) = %.3f, medians %v vs %v): the key cache is an oracle",
					auc, median(good), median(bad))
			}
		})
	}
}

func shuffled() [2]bool {
	if rand.IntN(2) == 0 {
		return [2]bool{false, true}
	}
	return [2]bool{true, false}
}

// probeThenFollow seals a fresh request, sends a tampered copy that
// decrypts (bad == false) or does not (bad == true), then times the
// untampered request with the same blob.
func probeThenFollow(t *testing.T, fx fixture, alg Algorithm, bad bool) time.Duration {
	t.Helper()
	// ASCII name: flipping a bit of its first byte keeps it valid UTF-8.
	sealed, _, enc := seal(t, fx.to[alg], Fields{Name: "Zhang San", IDCard: samples[0].IDCard}, FieldName)
	probe := enc
	switch alg {
	case AES256CBC:
		iv, _ := b64.DecodeString(enc.IV)
		if bad {
			iv[blockLen-1] ^= 0x01 // the padding byte: 0x07 becomes 0x06, invalid
		} else {
			iv[0] ^= 0x01 // 'Z' becomes '[': padding intact
		}
		probe.IV = b64.EncodeToString(iv)
	case SM4GCM:
		if bad {
			tag, _ := b64.DecodeString(enc.TagList[0])
			tag[0] ^= 0x01
			probe.TagList = []string{b64.EncodeToString(tag)}
		}
	}
	_, _, err := fx.ring.Open(&probe, sealed)
	if bad != (err != nil) {
		t.Fatalf("%s probe (bad=%v): err = %v", alg, bad, detail(err))
	}
	follow := enc
	start := time.Now()
	_, _, err = fx.ring.Open(&follow, sealed)
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s follow-up: %v", alg, detail(err))
	}
	return d
}

// rankStatistic is the Mann–Whitney U of a over b, normalised: the
// probability that a value drawn from a exceeds one drawn from b (ties
// count half).
func rankStatistic(a, b []time.Duration) float64 {
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u / float64(len(a)*len(b))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
