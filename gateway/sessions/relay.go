package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/internal/secret"
)

// Webhooks pass through the gateway:
//
//	upstream ──signed with the upstream secret──▶ POST /webhooks/sessions
//	  verify signature and timestamp (401 otherwise), find the session
//	  (404), learn its state (billing), queue the event (503 when full),
//	  answer 204
//	gateway ──signed with the tenant's secret──▶ tenant's callback_url
//	  the same body bytes and X-Idgate-Event-Id, a fresh timestamp and
//	  signature; non-2xx or no answer is retried with exponential backoff
//	  and jitter up to delivery.max_attempts
//
// The upstream never learns the tenant's URL and the tenant never needs the
// upstream's secret. With an Outbox (the server passes the SQLite one) an
// accepted event is stored before the upstream gets its 204, and pending
// deliveries resume after a restart or a crash; without one they live in
// memory only.

// Relay re-delivers upstream webhooks to tenants.
type Relay struct {
	cfg     DeliveryConfig
	policy  *callbackPolicy
	dial    *dialer
	secrets atomic.Pointer[map[string][]byte] // swapped on reload
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	box     Outbox // nil: memory only
	// claims is box when replicas share it: a delivery is claimed before
	// each attempt, and deliveries other replicas left are claimed from it
	// periodically (resume).
	claims  ClaimingOutbox
	stop    chan struct{}
	resumed chan struct{}

	q      chan *delivery
	mu     sync.Mutex
	closed bool
	timers map[*delivery]*time.Timer
	wg     sync.WaitGroup

	outcomes *prometheus.CounterVec
}

type delivery struct {
	tenant, url, eventID string
	body                 []byte
	attempt              int
	claim                string // the held claim's token (ClaimingOutbox)
}

// Delivery outcomes (metric label).
const (
	outDelivered = "delivered"
	outRetry     = "retry"
	outFailed    = "failed"
	outDropped   = "dropped"
)

// NewRelay starts the delivery workers and resumes box's pending
// deliveries. reg and box may be nil.
func NewRelay(cfg Config, reg prometheus.Registerer, log *slog.Logger, box Outbox) (*Relay, error) {
	policy, err := newCallbackPolicy(cfg.Callbacks)
	if err != nil {
		return nil, fmt.Errorf("sessions: relay: %w", err)
	}
	dial := &dialer{policy: policy, net: net.Dialer{Timeout: cfg.Delivery.Timeout, Control: policy.control},
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}}
	r := &Relay{
		cfg: cfg.Delivery, log: log, now: time.Now, box: box, policy: policy, dial: dial,
		client: &http.Client{Timeout: cfg.Delivery.Timeout,
			Transport: &http.Transport{
				// Never a proxy from the environment: the dialer must see
				// the tenant's own addresses.
				Proxy:                  nil,
				DialContext:            dial.DialContext,
				TLSHandshakeTimeout:    cfg.Delivery.Timeout,
				ResponseHeaderTimeout:  cfg.Delivery.Timeout,
				MaxResponseHeaderBytes: maxCallbackHeader,
				MaxIdleConnsPerHost:    2,
				IdleConnTimeout:        90 * time.Second,
				ForceAttemptHTTP2:      true,
			},
			// A tenant's redirect is not followed: the signature covers one URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		q:      make(chan *delivery, cfg.Delivery.QueueSize),
		timers: map[*delivery]*time.Timer{},
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "idgate", Subsystem: "gateway", Name: "session_webhook_deliveries_total",
			Help: "Webhook deliveries to tenants by outcome (delivered, retry, failed, dropped).",
		}, []string{"outcome"}),
	}
	r.SetSecrets(cfg.TenantWebhookSecrets)
	if reg != nil {
		reg.MustRegister(r.outcomes)
	}
	var pending []Delivery
	r.claims, _ = box.(ClaimingOutbox)
	if box != nil && r.claims == nil {
		if pending, err = box.Pending(context.Background()); err != nil {
			return nil, err
		}
	}
	for range max(cfg.Delivery.Workers, 1) {
		r.wg.Add(1)
		go r.work()
	}
	r.schedule(pending)
	if len(pending) > 0 {
		log.Info("webhook deliveries resumed", "pending", len(pending))
	}
	if r.claims != nil {
		r.stop, r.resumed = make(chan struct{}), make(chan struct{})
		go r.resume()
	}
	return r, nil
}

// schedule queues deliveries read from the outbox, each when it is due.
func (r *Relay) schedule(pending []Delivery) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, p := range pending {
		r.scheduleLocked(&delivery{tenant: p.Tenant, url: p.URL, eventID: p.EventID, body: p.Body, attempt: p.Attempt, claim: p.Claim}, max(p.Next.Sub(now), 0))
	}
}

// resumeEvery is how often a relay on a shared outbox looks for
// deliveries no replica holds (their holder stopped or died).
const resumeEvery = 5 * time.Second

// resume claims, from the start and then periodically, the due
// deliveries whose holders' claims lapsed.
func (r *Relay) resume() {
	defer close(r.resumed)
	tick := time.NewTicker(resumeEvery)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		pending, err := r.claims.ClaimDue(ctx, max(r.cfg.QueueSize/4, 1))
		cancel()
		if err != nil {
			r.log.Error("webhook outbox: claiming pending deliveries failed", "err", err)
		} else if len(pending) > 0 {
			r.log.Info("webhook deliveries resumed", "pending", len(pending))
			r.schedule(pending)
		}
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
	}
}

// Bounds on what a tenant's receiver may send back: the answer's status
// is all the relay needs.
const (
	maxCallbackHeader = 16 << 10
	maxCallbackBody   = 64 << 10
)

// CheckCallback is the create-time check of tenant's callback_url against
// sessions.callbacks; the error's text is fit for the tenant.
func (r *Relay) CheckCallback(tenant, url string) error { return r.policy.checkURL(tenant, url) }

// HasSecret reports whether tenant can receive webhooks.
func (r *Relay) HasSecret(tenant string) bool { return len((*r.secrets.Load())[tenant]) > 0 }

// SetSecrets replaces the tenants' webhook secrets (config reload).
// Deliveries already queued are signed with the secret current when they
// are sent.
func (r *Relay) SetSecrets(secrets map[string]secret.Secret) {
	m := make(map[string][]byte, len(secrets))
	for t, s := range secrets {
		m[t] = []byte(s.Reveal())
	}
	r.secrets.Store(&m)
}

// Enqueue accepts an event for tenant. False means it could not be kept
// (outbox write failed; or, without an outbox, the queue is full or the
// relay closed): the caller answers the upstream 503 and it retries.
func (r *Relay) Enqueue(tenant, url, eventID string, body []byte) bool {
	d := &delivery{tenant: tenant, url: url, eventID: eventID, body: bytes.Clone(body)}
	if r.claims != nil {
		d.claim = newClaim()
	}
	if r.box != nil {
		added, err := r.box.Add(context.Background(), Delivery{EventID: eventID, Tenant: tenant, URL: url, Body: d.body, Next: r.now(), Claim: d.claim})
		if err != nil {
			r.log.Error("webhook outbox write failed", "tenant", tenant, "event_id", eventID, "err", err)
			return false
		}
		if !added {
			return true // the same event is pending already
		}
	}
	if r.push(d) {
		return true
	}
	if r.box == nil {
		return false
	}
	// Stored but the queue is full: try again shortly.
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.scheduleLocked(d, r.cfg.InitialBackoff)
	}
	return true
}

func (r *Relay) push(d *delivery) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	select {
	case r.q <- d:
		return true
	default:
		return false
	}
}

// scheduleLocked pushes d after wait; r.mu is held.
func (r *Relay) scheduleLocked(d *delivery, wait time.Duration) {
	r.timers[d] = time.AfterFunc(wait, func() {
		r.mu.Lock()
		delete(r.timers, d)
		r.mu.Unlock()
		if r.push(d) {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case r.closed:
		case r.box != nil:
			r.scheduleLocked(d, r.cfg.InitialBackoff) // queue full; it is stored, wait
		default:
			r.outcomes.WithLabelValues(outDropped).Inc()
			r.log.Error("webhook retry dropped: queue full", "tenant", d.tenant, "event_id", d.eventID, "attempt", d.attempt)
		}
	})
}

// Close lets attempts already on the wire finish (at most
// delivery.timeout). Queued deliveries and scheduled retries stay in the
// outbox for the next start (without one they are abandoned, logged).
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	if r.stop != nil {
		close(r.stop)
		r.mu.Unlock()
		<-r.resumed
		r.mu.Lock()
	}
	for d, t := range r.timers {
		if t.Stop() && r.box == nil {
			r.log.Warn("webhook retry abandoned at shutdown", "tenant", d.tenant, "event_id", d.eventID, "attempt", d.attempt)
		}
	}
	close(r.q)
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) work() {
	defer r.wg.Done()
	for d := range r.q {
		r.deliver(d)
	}
}

func (r *Relay) deliver(d *delivery) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		// Shutting down: only attempts already on the wire finish.
		if r.box == nil {
			r.outcomes.WithLabelValues(outDropped).Inc()
			r.log.Warn("webhook delivery abandoned at shutdown", "tenant", d.tenant, "event_id", d.eventID, "attempt", d.attempt)
		}
		return
	}
	secret, ok := (*r.secrets.Load())[d.tenant]
	if !ok || len(secret) == 0 {
		// The tenant's secret left the config since the event was stored.
		r.outcomes.WithLabelValues(outFailed).Inc()
		r.log.Error("webhook not delivered: the tenant has no webhook secret any more", "tenant", d.tenant, "event_id", d.eventID)
		r.forget(d)
		return
	}
	if err := r.policy.checkURL(d.tenant, d.url); err != nil {
		// Stored before the policy changed: never sent.
		r.outcomes.WithLabelValues(outFailed).Inc()
		r.log.Error("webhook not delivered: the callback is not allowed by sessions.callbacks", "tenant", d.tenant, "event_id", d.eventID, "err", err)
		r.forget(d)
		return
	}
	if r.claims != nil && !r.claim(d) {
		return
	}
	d.attempt++
	ts, sig := contracts.SignWebhook(secret, r.now(), d.body)
	status, err := r.post(d, ts, sig)
	if err == nil && status >= 200 && status < 300 {
		r.outcomes.WithLabelValues(outDelivered).Inc()
		r.forget(d)
		return
	}
	if d.attempt >= r.cfg.MaxAttempts {
		r.outcomes.WithLabelValues(outFailed).Inc()
		r.log.Error("webhook delivery failed for good", "tenant", d.tenant, "event_id", d.eventID, "attempts", d.attempt, "status", status, "err", errText(err))
		r.forget(d)
		return
	}
	r.outcomes.WithLabelValues(outRetry).Inc()
	wait := r.backoff(d.attempt)
	if r.box != nil {
		if err := r.box.Retry(context.Background(), d.eventID, d.url, d.attempt, r.now().Add(wait)); err != nil {
			// The row keeps its older schedule: after a restart it is tried
			// sooner than planned, never lost.
			r.log.Error("webhook outbox update failed", "tenant", d.tenant, "event_id", d.eventID, "err", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		if r.box == nil {
			r.log.Warn("webhook retry abandoned at shutdown", "tenant", d.tenant, "event_id", d.eventID, "attempt", d.attempt)
		}
		return
	}
	r.scheduleLocked(d, wait)
}

// claim renews d's claim in a shared outbox before an attempt. False: the
// attempt is not this replica's to make (another holds the delivery, or
// it is gone; or the outbox cannot be reached, and it is tried again
// later).
func (r *Relay) claim(d *delivery) bool {
	next := newClaim()
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	attempt, ok, err := r.claims.Claim(ctx, d.eventID, d.url, d.claim, next)
	cancel()
	if err != nil {
		r.log.Error("webhook outbox claim failed; retrying", "tenant", d.tenant, "event_id", d.eventID, "err", err)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.closed {
			r.scheduleLocked(d, r.cfg.InitialBackoff)
		}
		return false
	}
	if !ok {
		r.log.Debug("webhook delivery held by another replica, or done", "tenant", d.tenant, "event_id", d.eventID)
		return false
	}
	d.claim, d.attempt = next, attempt
	return true
}

// forget removes a finished delivery from the outbox.
func (r *Relay) forget(d *delivery) {
	if r.box == nil {
		return
	}
	if err := r.box.Done(context.Background(), d.eventID, d.url); err != nil {
		// Left in the outbox: delivered once more after a restart, which
		// receivers deduplicate on the event id.
		r.log.Error("webhook outbox delete failed", "tenant", d.tenant, "event_id", d.eventID, "err", err)
	}
}

// backoff doubles from initial_backoff up to max_backoff, with full jitter
// over the upper half so retries of many events do not arrive in step.
func (r *Relay) backoff(attempt int) time.Duration {
	b := r.cfg.InitialBackoff
	for i := 1; i < attempt && b < r.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, r.cfg.MaxBackoff)
	return b/2 + rand.N(b/2+1)
}

func (r *Relay) post(d *delivery, ts, sig string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idgate-gateway-webhooks")
	req.Header.Set(contracts.WebhookTimestampHeader, ts)
	req.Header.Set(contracts.WebhookSignatureHeader, sig)
	req.Header.Set(contracts.WebhookEventHeader, d.eventID)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drained up to a bound so the connection can be reused; a receiver
	// that sends more is cut off there.
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxCallbackBody))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// errText names an error for the log without the URL (the tenant's
// callback may carry its own token in the query).
func errText(err error) string {
	if err == nil {
		return ""
	}
	if ue, ok := err.(interface{ Timeout() bool }); ok && ue.Timeout() {
		return "timeout"
	}
	if errors.Is(err, errCallbackRefused) {
		return "address refused by sessions.callbacks"
	}
	return "transport error"
}

// MaxWebhookBytes bounds the body of an upstream webhook: one session
// event is well under a kilobyte, so a larger body is refused (400
// token_mismatched) before its HMAC is computed or it is queued.
const MaxWebhookBytes = 64 << 10

// receive is the gateway's webhook endpoint towards the upstream.
func (s *Service) receive(ctx *fasthttp.RequestCtx) {
	start := s.Now()
	reqID := s.IDs.Next()
	ctx.Response.Header.Set("X-Request-Id", reqID)
	outcome := "accepted"
	defer func() { s.Metrics.Observe("sessions.webhook", outcome, "", s.Now().Sub(start)) }()
	body := ctx.Request.Body()
	if len(body) > MaxWebhookBytes {
		outcome = "too_large"
		s.Log.Warn("upstream webhook refused", "request_id", reqID, "err", "body too large", "bytes", len(body))
		admission.WriteError(ctx, contracts.ErrTokenMismatched, fmt.Sprintf("webhook body exceeds %d bytes", MaxWebhookBytes), reqID)
		return
	}
	ts := string(ctx.Request.Header.Peek(contracts.WebhookTimestampHeader))
	sig := string(ctx.Request.Header.Peek(contracts.WebhookSignatureHeader))
	if err := contracts.VerifyWebhook([]byte(s.cfg.UpstreamWebhookSecret), ts, sig, body, start, s.cfg.WebhookTolerance); err != nil {
		outcome = "bad_signature"
		s.Log.Warn("upstream webhook refused", "request_id", reqID, "err", err)
		admission.WriteError(ctx, contracts.ErrInvalidToken, "webhook signature or timestamp invalid", reqID)
		return
	}
	var ev contracts.SessionEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.RequestID == "" {
		outcome = "bad_body"
		admission.WriteError(ctx, contracts.ErrTokenMismatched, "webhook body is not a session event", reqID)
		return
	}
	t, err := s.find(ev.RequestID)
	// The upstream sends "created" while its create answer is still on the
	// way back: give creates in flight a moment to store the session
	// rather than have the upstream retry a second later.
	for wait := 0; t == nil && err == nil && s.creating.Load() > 0 && wait < 100; wait++ {
		time.Sleep(5 * time.Millisecond)
		t, err = s.find(ev.RequestID)
	}
	if err != nil {
		// The store cannot say: the upstream retries later.
		outcome = "store_unavailable"
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, contracts.AppendError(nil, contracts.NewError(contracts.ErrServiceUnavailable, "sessions store unavailable, retry later", reqID)))
		return
	}
	if t == nil {
		// Before create's answer was stored (a race the upstream's retry
		// resolves), or swept.
		outcome = "unknown_session"
		b, _ := json.Marshal(contracts.NewSessionError(contracts.ErrSessionNotFound, "", reqID))
		writeJSON(ctx, fasthttp.StatusNotFound, b)
		return
	}
	s.observe(t, ev.State, failureCode(ev.Error), ev.Version, "webhook")
	if cb := t.rec.Callback; cb != "" {
		if !s.relay.Enqueue(t.rec.Tenant, cb, ev.ID, body) {
			outcome = "queue_full"
			s.Log.Error("webhook relay queue full; the upstream will retry", "request_id", reqID, "tenant", t.rec.Tenant)
			writeJSON(ctx, fasthttp.StatusServiceUnavailable, contracts.AppendError(nil, contracts.NewError(contracts.ErrAPIError, "webhook queue full, retry later", reqID)))
			return
		}
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}
