// Package notify tells people about what the node's supervision found: an
// alert raised by a rule, an approval step about to run out of time, a yellow
// or red card (DOMAIN.md, "Escalation ladder"). In the source practice these
// were SMS reminders; here they go through real channels, an HTTP webhook and
// SMTP mail (DESIGN.md, "Rules, workflow and alerts").
//
// Notify never blocks the caller on the network: it resolves the recipients,
// turns the message into one delivery per contact and channel, and puts them
// on a bounded queue. Workers send, retry retryable failures with exponential
// backoff and jitter, and hand every finished delivery, delivered or given
// up, to Config.Record, which the node writes to its ledger. A full queue is
// refused with ErrQueueFull rather than grown, so the caller knows at once
// that nobody will be told and can record that instead.
package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/sanzi/sanzi/node/retry"
)

// Errors returned by the package; wrap-compared with errors.Is.
var (
	// ErrQueueFull: no room in the queue for the message; none of it queued.
	ErrQueueFull = errors.New("notify: queue full")
	// ErrClosed: Close was called; the notifier takes no more messages.
	ErrClosed = errors.New("notify: closed")
	// ErrNoRecipients: no contact of the message is reachable on any channel.
	ErrNoRecipients = errors.New("notify: no recipients")
	// ErrInvalidMessage: the message lacks an ID or has an unknown Kind.
	ErrInvalidMessage = errors.New("notify: invalid message")
	// ErrPermanent marks a channel error that retrying cannot fix (a 4xx from
	// a webhook, a 5xx SMTP reply, a missing or malformed address). Channels
	// wrap it; the notifier then gives up after that attempt.
	ErrPermanent = errors.New("notify: permanent failure")
	// ErrBadSignature: Verify found a webhook request's signature or
	// timestamp missing, malformed or not made with the secret.
	ErrBadSignature = errors.New("notify: bad webhook signature")
	// ErrStale: Verify found a correctly signed webhook request whose
	// timestamp is more than MaxWebhookAge from now (a replay, or a clock
	// far off).
	ErrStale = errors.New("notify: stale webhook delivery")
	// ErrNoSTARTTLS: the mail server does not offer STARTTLS and the SMTP
	// channel requires it. Retried: a stripped offer may be an attacker on
	// the path, who may not always be there.
	ErrNoSTARTTLS = errors.New("notify: mail server does not offer STARTTLS")
)

// Message kinds: what the message is about, from the escalation ladder.
const (
	KindAlert      = "alert"       // a supervision rule fired
	KindWarning    = "warning"     // 20% of a step's time is left (预警)
	KindYellowCard = "yellow_card" // a step is overdue (黄牌)
	KindRedCard    = "red_card"    // far overdue or a serious violation (红牌)
	KindDirective  = "directive"   // an instruction from a higher tier
)

var knownKinds = []string{KindAlert, KindWarning, KindYellowCard, KindRedCard, KindDirective}

// Message is one notification, already addressed.
type Message struct {
	Kind    string            // one of the Kind constants
	Org     string            // 12-digit org code
	Post    string            // post code the message is for, e.g. "town.reviewer"
	To      []Contact         // resolved recipients; Notify fills them from Contacts when empty
	Subject string            // one line
	Body    string            // Chinese text
	Data    map[string]string // machine-readable fields (rule code, entry id, deadline RFC3339, ...)
	ID      string            // idempotency key, e.g. the alert's entry id + kind + post
}

// Contact is one person and the addresses they can be reached at; each
// channel uses one field and skips contacts that leave it empty.
type Contact struct {
	Name    string
	Email   string // used by SMTP
	Webhook string // used by Webhook
	Phone   string // kept for an SMS channel; no channel here uses it
}

// Contacts maps posts of an org to people; the district or town sets them.
type Contacts interface {
	// ForPost returns the people holding post at org, or none.
	ForPost(org, post string) []Contact
}

// StaticContacts is a fixed Contacts table keyed "org/post", with "*/post"
// as the fallback for orgs that have no people of their own for that post.
type StaticContacts map[string][]Contact

// ForPost returns a copy of the org's list for the post, or the "*/post"
// list when the org's is missing or empty: an empty list must not silence
// a post that has a fallback.
func (s StaticContacts) ForPost(org, post string) []Contact {
	if cs := s[org+"/"+post]; len(cs) > 0 {
		return slices.Clone(cs)
	}
	return slices.Clone(s["*/"+post])
}

// Channel delivers a message to one contact.
type Channel interface {
	// Name identifies the channel in deliveries and logs, e.g. "webhook".
	Name() string
	// Send makes one attempt. An error wrapping ErrPermanent is not retried;
	// any other error is. Send must return when ctx ends.
	Send(ctx context.Context, m Message, to Contact) error
}

// Addresser is implemented by channels that reach a contact through one of
// its fields. The notifier skips the channel for contacts whose address is
// empty and records the address in Delivery.To; a channel without it is
// tried for every contact and recorded under the contact's name.
type Addresser interface {
	// Address is the contact's address on this channel in a form safe to
	// store (no credentials), or "" when the contact has none.
	Address(to Contact) string
}

// Delivery is the record of one attempt chain to one contact on one
// channel: what the caller stores as a ledger entry.
type Delivery struct {
	MessageID string
	Channel   string
	To        string // address as given by Addresser, or the contact's name
	Attempts  int    // attempts made; 0 when the notifier closed before the first
	OK        bool
	Err       string // last error when !OK
	At        time.Time
}

// Clock is the notifier's time source; tests inject one whose After fires
// on demand so retries do not sleep for real.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config sets up a Notifier.
type Config struct {
	// Contacts resolves messages that come without recipients; optional.
	Contacts Contacts
	// Channels are tried, in order, for every contact they apply to.
	Channels []Channel
	// Record receives every finished delivery; required. Calls come from
	// the workers, one at a time.
	Record func(Delivery)
	// Clock; default the wall clock.
	Clock Clock
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Workers deliver concurrently, each one delivery through all its
	// retries (a dead endpoint holds a worker); default 8.
	Workers int
	// QueueLen bounds the deliveries (contact × channel) waiting; default 1000.
	QueueLen int
	// Base and Max bound the backoff before a retry: Base·2^(n-1) after the
	// n-th attempt, capped at Max, then jittered into [d/2, d). Default 1s, 1m.
	Base, Max time.Duration
	// MaxAttempts per delivery, the first included; default 5.
	MaxAttempts int
	// Rand returns a value in [0,1) for jitter; default math/rand/v2.
	Rand func() float64
}

func (c *Config) validate() error {
	switch {
	case len(c.Channels) == 0:
		return errors.New("notify config: at least one channel is required")
	case c.Record == nil:
		return errors.New("notify config: Record is required (every delivery must be recorded)")
	case c.Workers < 0 || c.QueueLen < 0 || c.Base < 0 || c.Max < 0 || c.MaxAttempts < 0:
		return errors.New("notify config: negative Workers, QueueLen, Base, Max or MaxAttempts")
	}
	c.Clock = cmp.Or[Clock](c.Clock, realClock{})
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Workers, c.QueueLen, c.MaxAttempts = cmp.Or(c.Workers, 8), cmp.Or(c.QueueLen, 1000), cmp.Or(c.MaxAttempts, 5)
	c.Base, c.Max = cmp.Or(c.Base, time.Second), cmp.Or(c.Max, time.Minute)
	if c.Max < c.Base {
		return fmt.Errorf("notify config: Max %v is below Base %v", c.Max, c.Base)
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return nil
}

// Notifier queues messages and delivers them in the background. It is safe
// for concurrent use.
type Notifier struct {
	cfg      Config
	q        chan job
	mu       sync.Mutex // guards closed and sends on q
	closed   bool
	recordMu sync.Mutex         // serializes cfg.Record
	abort    context.Context    // done when Close gives up waiting
	cancel   context.CancelFunc // ends abort
	wg       sync.WaitGroup     // the workers
}

// job is one delivery: a message to one contact on one channel.
type job struct {
	ctx  context.Context // the caller's values, not its cancellation
	m    Message
	to   Contact
	ch   Channel
	addr string
}

// New starts a notifier's workers.
func New(cfg Config) (*Notifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Notifier{cfg: cfg, q: make(chan job, cfg.QueueLen)}
	n.abort, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go n.work()
	}
	return n, nil
}

// Notify queues m for delivery and returns without waiting for it. When
// m.To is empty the recipients come from Contacts for m.Org and m.Post. All
// of the message's deliveries are queued or none is: an error means nobody
// will be told. ctx's values travel with the deliveries but not its
// cancellation, since they outlive the call.
func (n *Notifier) Notify(ctx context.Context, m Message) error {
	_, err := n.NotifyExcept(ctx, m, nil)
	return err
}

// NotifyExcept is Notify without the deliveries done says were made
// already (by channel name and address, as Delivery records them), for a
// sender that resumes another's work from the recorded deliveries. It
// returns how many deliveries it queued: 0 and no error when every one was
// done.
func (n *Notifier) NotifyExcept(ctx context.Context, m Message, done func(channel, to string) bool) (int, error) {
	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("notify %s: %w", m.ID, ctx.Err())
	case m.ID == "":
		return 0, fmt.Errorf("notify %s to %s/%s: %w: no ID", m.Kind, m.Org, m.Post, ErrInvalidMessage)
	case !slices.Contains(knownKinds, m.Kind):
		return 0, fmt.Errorf("notify %s: %w: unknown kind %q", m.ID, ErrInvalidMessage, m.Kind)
	}
	if len(m.To) == 0 && n.cfg.Contacts != nil {
		m.To = n.cfg.Contacts.ForPost(m.Org, m.Post)
	}
	// Own copies: a caller reusing its slice or map must not change what
	// the workers send.
	m.To, m.Data = slices.Clone(m.To), maps.Clone(m.Data)
	var jobs []job
	skipped := 0
	for _, c := range m.To {
		for _, ch := range n.cfg.Channels {
			addr := c.Name
			if a, ok := ch.(Addresser); ok {
				if addr = a.Address(c); addr == "" {
					continue
				}
			}
			if done != nil && done(ch.Name(), addr) {
				skipped++
				continue
			}
			jobs = append(jobs, job{ctx: context.WithoutCancel(ctx), m: m, to: c, ch: ch, addr: addr})
		}
	}
	if len(jobs) == 0 && skipped > 0 {
		return 0, nil
	}
	if len(jobs) == 0 {
		return 0, fmt.Errorf("notify %s to %s/%s (%d contacts): %w", m.ID, m.Org, m.Post, len(m.To), ErrNoRecipients)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return 0, fmt.Errorf("notify %s: %w", m.ID, ErrClosed)
	}
	// Only workers receive, so the room seen here can only grow while we
	// hold mu: every send below succeeds without blocking.
	if free := cap(n.q) - len(n.q); free < len(jobs) {
		return 0, fmt.Errorf("notify %s: %d deliveries, room for %d: %w", m.ID, len(jobs), free, ErrQueueFull)
	}
	for _, j := range jobs {
		n.q <- j
	}
	return len(jobs), nil
}

// Close stops taking messages and waits for the queued and in-flight
// deliveries to finish. If ctx ends first, it returns ctx's error and the
// rest are abandoned: the workers record each as failed in the background.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.q)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	defer n.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notify: close: waiting for deliveries: %w", ctx.Err())
	}
}

func (n *Notifier) work() {
	defer n.wg.Done()
	for j := range n.q {
		d := n.deliver(j)
		if !d.OK {
			n.cfg.Logger.Warn("notification not delivered", "id", d.MessageID, "channel", d.Channel,
				"to", d.To, "attempts", d.Attempts, "err", d.Err)
		}
		n.recordMu.Lock()
		n.cfg.Record(d)
		n.recordMu.Unlock()
	}
}

// deliver runs one delivery's attempt chain.
func (n *Notifier) deliver(j job) Delivery {
	d := Delivery{MessageID: j.m.ID, Channel: j.ch.Name(), To: j.addr}
	ctx, cancel := context.WithCancel(j.ctx)
	defer cancel()
	defer context.AfterFunc(n.abort, cancel)()
	var err error
	for {
		if n.abort.Err() != nil {
			if err == nil || errors.Is(err, context.Canceled) {
				err = context.Canceled
			}
			err = fmt.Errorf("abandoned after %d attempts, notifier closed: %w", d.Attempts, err)
			break
		}
		d.Attempts++
		if err = j.ch.Send(ctx, j.m, j.to); err == nil || errors.Is(err, ErrPermanent) || d.Attempts >= n.cfg.MaxAttempts {
			break
		}
		select {
		case <-n.cfg.Clock.After(n.backoff(d.Attempts)):
		case <-ctx.Done():
		}
	}
	if d.OK = err == nil; !d.OK {
		d.Err = err.Error()
	}
	d.At = n.cfg.Clock.Now()
	return d
}

// backoff is the wait after the attempt-th failure (retry.Backoff with the
// notifier's bounds and jitter source).
func (n *Notifier) backoff(attempt int) time.Duration {
	return retry.Backoff(attempt, n.cfg.Base, n.cfg.Max, n.cfg.Rand)
}
