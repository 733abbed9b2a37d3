package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idgate/idgate/contracts"
)

// Delivery outcomes recorded in the journal.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetrying  = "retrying"
	OutcomeGaveUp    = "gave_up"
	OutcomeDropped   = "dropped" // queue full or shutting down
)

// DeliveryAttempt is one journal entry: one HTTP attempt of one event.
type DeliveryAttempt struct {
	Seq        uint64    `json:"seq"`
	EventID    string    `json:"event_id"`
	RequestID  string    `json:"request_id"`
	Version    int64     `json:"version"`
	URL        string    `json:"url"`
	Attempt    int       `json:"attempt"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Outcome    string    `json:"outcome"`
	At         time.Time `json:"at"`
	DurationMS float64   `json:"duration_ms"`
	NextAt     time.Time `json:"next_attempt_at,omitzero"`
}

// Journal is a bounded ring of delivery attempts, newest last.
type Journal struct {
	mu   sync.Mutex
	buf  []DeliveryAttempt
	next int
	full bool
	seq  uint64
}

// NewJournal keeps the last size attempts; size 0 keeps none.
func NewJournal(size int) *Journal { return &Journal{buf: make([]DeliveryAttempt, size)} }

func (j *Journal) add(a DeliveryAttempt) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	if len(j.buf) == 0 {
		return
	}
	a.Seq = j.seq
	j.buf[j.next] = a
	j.next = (j.next + 1) % len(j.buf)
	if j.next == 0 {
		j.full = true
	}
}

// List returns up to limit attempts, oldest first, optionally only those of
// one session (requestID != "").
func (j *Journal) List(requestID string, limit int) []DeliveryAttempt {
	j.mu.Lock()
	defer j.mu.Unlock()
	var all []DeliveryAttempt
	if j.full {
		all = append(all, j.buf[j.next:]...)
	}
	all = append(all, j.buf[:j.next]...)
	out := make([]DeliveryAttempt, 0, len(all))
	for _, a := range all {
		if requestID == "" || a.RequestID == requestID {
			out = append(out, a)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

type delivery struct {
	url     string
	body    []byte
	event   contracts.SessionEvent
	attempt int
}

// Dispatcher delivers signed webhooks with bounded retries. Events of one
// session may arrive out of order when a retry overtakes a later event;
// receivers order them by version.
type Dispatcher struct {
	cfg     WebhookConfig
	secret  []byte
	clock   Clock
	client  *http.Client
	log     *slog.Logger
	journal *Journal
	queue   chan *delivery
	// onAttempt counts attempts by outcome (metrics); nil until set.
	onAttempt atomic.Pointer[func(outcome string)]

	mu     sync.Mutex
	closed bool
	timers map[*delivery]Timer
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewDispatcher starts cfg.Workers delivery goroutines.
func NewDispatcher(cfg WebhookConfig, clock Clock, client *http.Client, log *slog.Logger) *Dispatcher {
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		cfg: cfg, secret: []byte(cfg.Secret), clock: clock, client: client, log: log,
		journal: NewJournal(cfg.JournalSize), queue: make(chan *delivery, cfg.QueueSize),
		timers: map[*delivery]Timer{}, ctx: ctx, cancel: cancel,
	}
	for i := 0; i < cfg.Workers; i++ {
		d.wg.Add(1)
		go d.work()
	}
	return d
}

// Journal is the dispatcher's delivery journal.
func (d *Dispatcher) Journal() *Journal { return d.journal }

// Send queues an event for url.
func (d *Dispatcher) Send(url string, ev contracts.SessionEvent) {
	body, err := marshal(ev)
	if err != nil {
		d.log.Error("session webhook: encode event", "request_id", ev.RequestID, "err", err)
		return
	}
	d.enqueue(&delivery{url: url, body: body, event: ev, attempt: 1})
}

func (d *Dispatcher) enqueue(dl *delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		select {
		case d.queue <- dl:
			return
		default:
		}
	}
	d.record(dl, 0, fmt.Errorf("queue full or shutting down"), OutcomeDropped, 0, time.Time{})
	d.log.Warn("session webhook dropped", "request_id", dl.event.RequestID, "version", dl.event.Version)
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case dl := <-d.queue:
			d.attempt(dl)
		}
	}
}

func (d *Dispatcher) attempt(dl *delivery) {
	start := d.clock.Now()
	wall := time.Now() // the attempt's duration is real time even under a fake clock
	status, err := d.post(dl, start)
	took := time.Since(wall)
	if err == nil && status >= 200 && status < 300 {
		d.record(dl, status, nil, OutcomeDelivered, took, time.Time{})
		return
	}
	if err == nil {
		err = fmt.Errorf("receiver answered %d", status)
	}
	if dl.attempt >= d.cfg.MaxAttempts {
		d.record(dl, status, err, OutcomeGaveUp, took, time.Time{})
		d.log.Warn("session webhook gave up", "request_id", dl.event.RequestID, "version", dl.event.Version, "attempts", dl.attempt, "err", err)
		return
	}
	wait := d.backoff(dl.attempt)
	d.record(dl, status, err, OutcomeRetrying, took, start.Add(wait))
	next := &delivery{url: dl.url, body: dl.body, event: dl.event, attempt: dl.attempt + 1}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.timers[next] = d.clock.AfterFunc(wait, func() {
		d.mu.Lock()
		delete(d.timers, next)
		d.mu.Unlock()
		d.enqueue(next)
	})
}

// backoff doubles from InitialBackoff up to MaxBackoff, with equal jitter
// so that retries of many sessions do not arrive in lockstep.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	b := d.cfg.InitialBackoff << (attempt - 1)
	if b > d.cfg.MaxBackoff || b <= 0 {
		b = d.cfg.MaxBackoff
	}
	return b/2 + rand.N(b/2+1)
}

func (d *Dispatcher) post(dl *delivery, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.url, bytes.NewReader(dl.body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	ts, sig := contracts.SignWebhook(d.secret, now, dl.body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idgate-simulator-webhook/1")
	req.Header.Set(contracts.WebhookTimestampHeader, ts)
	req.Header.Set(contracts.WebhookSignatureHeader, sig)
	req.Header.Set(contracts.WebhookEventHeader, dl.event.ID)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *Dispatcher) record(dl *delivery, status int, err error, outcome string, took time.Duration, next time.Time) {
	a := DeliveryAttempt{
		EventID: dl.event.ID, RequestID: dl.event.RequestID, Version: dl.event.Version, URL: dl.url,
		Attempt: dl.attempt, Status: status, Outcome: outcome, At: d.clock.Now(),
		DurationMS: float64(took.Microseconds()) / 1000, NextAt: next,
	}
	if err != nil {
		a.Error = err.Error()
	}
	d.journal.add(a)
	if f := d.onAttempt.Load(); f != nil {
		(*f)(outcome)
	}
}

// Close stops the workers; queued events and pending retries are dropped
// (the simulator keeps no durable outbox).
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	for dl, t := range d.timers {
		t.Stop()
		delete(d.timers, dl)
	}
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}
