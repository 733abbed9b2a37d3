package testkit

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/ledger"
)

func TestLoadBounds(t *testing.T) {
	var calls atomic.Int64
	count := func(int, int) bool { calls.Add(1); return true }
	if n, _ := (Load{Workers: 4, PerWorker: 25}).Run(count); n != 100 || calls.Load() != 100 {
		t.Errorf("PerWorker: %d calls, %d counted, want 100", calls.Load(), n)
	}
	if _, took := (Load{Workers: 2, For: 50 * time.Millisecond}).Run(count); took < 50*time.Millisecond || took > 5*time.Second {
		t.Errorf("For 50ms took %v", took)
	}
	stop := make(chan struct{})
	wait := Load{Workers: 3, Stop: stop}.Start(count)
	time.Sleep(10 * time.Millisecond)
	close(stop)
	if n, _ := wait(); n == 0 {
		t.Error("Stop: no calls before the stop")
	}
	// A worker whose call returns false stops; it is not counted.
	if n, _ := (Load{Workers: 2, PerWorker: 10}).Run(func(w, i int) bool { return w == 0 || i < 3 }); n != 13 {
		t.Errorf("early stop: %d calls counted, want 13", n)
	}
	defer func() {
		if recover() == nil {
			t.Error("an unbounded run was accepted")
		}
	}()
	Load{Workers: 1}.Run(count)
}

func TestLedger(t *testing.T) {
	var l Ledger
	Load{Workers: 4, PerWorker: 10}.Run(func(w, i int) bool {
		return l.Record(ledger.Entry{RequestID: fmt.Sprintf("%d-%d", w, i)}) == nil
	})
	if l.Len() != 40 || len(l.Entries()) != 40 {
		t.Errorf("recorded %d, kept %d, want 40", l.Len(), len(l.Entries()))
	}
	d := Ledger{Discard: true}
	d.Record(ledger.Entry{})
	if d.Len() != 1 || len(d.Entries()) != 0 {
		t.Errorf("discard: recorded %d, kept %d", d.Len(), len(d.Entries()))
	}
}

func TestCheckAndCall(t *testing.T) {
	addr := Serve(t, func(ctx *fasthttp.RequestCtx) {
		switch {
		case string(ctx.Request.Header.Peek("Authorization")) != "Bearer k":
			ctx.SetStatusCode(401)
			ctx.SetBodyString(`{"success":false,"error":{"code":"invalid_token","message":"x"}}`)
		case string(ctx.Request.Header.Peek("Prefer")) != "":
			ctx.SetBodyString(`{"result":"-5","description":"x"}`)
		default:
			ctx.Response.Header.Set("X-Request-Id", "r1")
			ctx.SetBodyString(`{"result":"0","description":"x"}`)
		}
	})
	base := "http://" + addr
	if a := Check(t, base, "k", `{}`, "Prefer", ""); a.Status != 200 || a.Code != "0" || a.RequestID() != "r1" {
		t.Errorf("check: %+v", a)
	}
	if a := Check(t, base, "k", `{}`, "Prefer", "result=-5"); a.Code != "-5" {
		t.Errorf("prefer: %+v", a)
	}
	if a := Check(t, base, "", `{}`); a.Status != 401 || a.Code != string(contracts.ErrInvalidToken) {
		t.Errorf("no token: %+v", a)
	}
	if status, body := Call(t, "GET", base+"/x", "k", ""); status != 200 || body == "" {
		t.Errorf("call: %d %s", status, body)
	}
	if a := TryCheck("http://"+FreeAddr(t), "k", `{}`); a.Err == nil {
		t.Errorf("nothing listens, yet %+v", a)
	}
}
