package keystore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/internal/testkit"
)

// Two replicas on one schema: a Put on one reaches the other's listener
// within a second with the change readable; a pair is sealed at rest; the
// listener reconnects after its connection is killed and reports a
// possible miss.
func TestPostgresSharedAcrossReplicas(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	ctx := context.Background()
	connsA, connsB := testkit.Conns(t, cfg), testkit.Conns(t, cfg)
	a, err := NewPostgres(ctx, connsA.PG, sealKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPostgres(ctx, connsB.PG, sealKey)
	if err != nil {
		t.Fatal(err)
	}
	if a.Channel() != b.Channel() || a.Channel() == channelName("other") {
		t.Fatalf("channels %q %q", a.Channel(), b.Channel())
	}
	changes := make(chan struct{}, 16)
	var selfHeard atomic.Int64
	log := slog.New(slog.DiscardHandler)
	stopB, err := b.Listen(ctx, log, func() { changes <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stopB()
	stopA, err := a.Listen(ctx, log, func() { selfHeard.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer stopA()

	waitChange := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(time.Second):
			t.Fatalf("%s: no callback within 1 s", what)
		}
	}
	if err := a.Put(ctx, withPair("k1")); err != nil {
		t.Fatal(err)
	}
	waitChange("put k1")
	got, err := b.Overrides(ctx)
	if err != nil || len(got) != 1 || got[0].KeyID != "k1" || got[0].SecretKey != pairSecret || got[0].Digest != sha256.Sum256([]byte("bearer-k1")) {
		t.Fatalf("B reads %+v %v", got, err)
	}
	disabled := got[0]
	disabled.Disabled, disabled.DailyQuota = true, 7
	if err := a.Put(ctx, disabled); err != nil {
		t.Fatal(err)
	}
	waitChange("disable k1")
	if got, err := b.Overrides(ctx); err != nil || len(got) != 1 || !got[0].Disabled || got[0].DailyQuota != 7 {
		t.Fatalf("B reads %+v %v", got, err)
	}
	if selfHeard.Load() != 0 {
		t.Fatalf("A heard its own changes %d times", selfHeard.Load())
	}

	// Sealed at rest.
	var sealed []byte
	if err := connsA.PG.QueryRow(ctx, `SELECT secret_key_sealed FROM api_keys WHERE id = 'k1'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || bytes.Contains(sealed, []byte(pairSecret)) {
		t.Fatal("the SecretKey is not sealed")
	}
	noKey, err := NewPostgres(ctx, connsA.PG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noKey.Overrides(ctx); !errors.Is(err, ErrNoSealingKey) {
		t.Fatalf("no sealing key: %v", err)
	}
	if err := noKey.Put(ctx, withPair("k2")); !errors.Is(err, ErrNoSealingKey) {
		t.Fatalf("put without a sealing key: %v", err)
	}

	// Kill B's listening connection: it reconnects and calls back once.
	tag, err := connsA.PG.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = $1 AND pid <> pg_backend_pid()`, "LISTEN \""+b.Channel()+"\"")
	if err != nil || tag.RowsAffected() != 2 { // A's and B's listeners
		t.Fatalf("terminate listeners: %v %v", tag, err)
	}
	waitChange("reconnect")
	if err := a.Put(ctx, auth.Override{KeyID: "k3", TenantID: "t1", Digest: sha256.Sum256([]byte("b3")), Rate: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	waitChange("put k3 after the reconnect")
	if got, err := b.Overrides(ctx); err != nil || len(got) != 2 {
		t.Fatalf("B reads %+v %v", got, err)
	}
}

// Two replicas creating one key id at once: exactly one wins, the other
// gets ErrExists, and the winner's digest is the one stored.
func TestPostgresCreateOnce(t *testing.T) {
	cfg := testkit.SharedStores(t, "", "")
	ctx := context.Background()
	var stores [2]*Postgres
	for i := range stores {
		s, err := NewPostgres(ctx, testkit.Conns(t, cfg).PG, sealKey)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	errs := make(chan error, 2)
	digests := [2][32]byte{sha256.Sum256([]byte("secret-a")), sha256.Sum256([]byte("secret-b"))}
	for i, s := range stores {
		go func() {
			errs <- s.Create(ctx, auth.Override{KeyID: "k-new", TenantID: "acme", Digest: digests[i], Rate: 1, Burst: 1})
		}()
	}
	var won, lost int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			won++
		case errors.Is(err, ErrExists):
			lost++
		default:
			t.Fatal(err)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("won %d, lost %d: want exactly one creation", won, lost)
	}
	got, err := stores[0].Overrides(ctx)
	if err != nil || len(got) != 1 || (got[0].Digest != digests[0] && got[0].Digest != digests[1]) {
		t.Fatalf("stored %+v, %v", got, err)
	}
	// Put still replaces (a rotation).
	if err := stores[1].Put(ctx, auth.Override{KeyID: "k-new", TenantID: "acme", Digest: digests[1], Rate: 2, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := stores[0].Overrides(ctx); got[0].Rate != 2 {
		t.Fatalf("after Put: %+v", got[0])
	}
}
