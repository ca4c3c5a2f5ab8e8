package notify

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock never sleeps: After fires at once, or, when manual is set,
// hands its channel to the test, which fires it when it wants.
type fakeClock struct {
	mu     sync.Mutex
	waits  []time.Duration
	manual chan chan time.Time
}

var epoch = time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)

func (c *fakeClock) Now() time.Time { return epoch }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.manual != nil {
		c.manual <- ch
	} else {
		ch <- epoch
	}
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// recorder collects deliveries as Config.Record.
type recorder chan Delivery

func (r recorder) record(d Delivery) { r <- d }

func (r recorder) next(t *testing.T) Delivery {
	t.Helper()
	select {
	case d := <-r:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery recorded")
		return Delivery{}
	}
}

func newNotifier(t *testing.T, cfg Config) *Notifier {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = &fakeClock{}
	}
	cfg.Rand = func() float64 { return 0.5 }
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

func testMessage(to ...Contact) Message {
	return Message{
		Kind: KindYellowCard, Org: "110101001001", Post: "village.accountant", To: to,
		Subject: "【三资监管·黄牌】日常报销 · 审核 已超过办理时限", Body: "事项「日常报销」的步骤「审核」已超过办理时限。\n请立即办理。",
		Data: map[string]string{"step": "审核"}, ID: "110101001001-7/yellow_card/village.accountant",
	}
}

var secret = []byte("district-shared-secret")

func TestWebhook(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // one per attempt; the last repeats
		manual   bool  // fire the retry timer by hand
		ok       bool
		attempts int
		waits    []time.Duration
	}{
		{name: "500 twice then 200", statuses: []int{500, 500, 200}, ok: true, attempts: 3,
			waits: []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}},
		{name: "400 is permanent", statuses: []int{400}, ok: false, attempts: 1},
		{name: "429 is retried", statuses: []int{429, 200}, manual: true, ok: true, attempts: 2},
		{name: "408 is retried", statuses: []int{408, 204}, ok: true, attempts: 2},
		{name: "503 until MaxAttempts", statuses: []int{503}, ok: false, attempts: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			hits := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := Verify(secret, r.Header, body, epoch.Add(time.Minute)); err != nil {
					t.Errorf("Verify: %v", err)
				}
				if got, want := r.Header.Get(HeaderTimestamp), strconv.FormatInt(epoch.Unix(), 10); got != want {
					t.Errorf("timestamp %q, want %q (the webhook's clock)", got, want)
				}
				if got := r.Header.Get(HeaderDelivery); got != testMessage().ID {
					t.Errorf("X-Sanzi-Delivery %q", got)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if r.URL.Query().Get("token") != "s3cret" {
					t.Errorf("query lost: %s", r.URL)
				}
				var p webhookPayload
				if err := json.Unmarshal(body, &p); err != nil {
					t.Errorf("body %s: %v", body, err)
				}
				if p.ID != testMessage().ID || p.Kind != KindYellowCard || p.Org != "110101001001" || p.To.Name != "王会计" ||
					p.Data["step"] != "审核" || !strings.Contains(p.Body, "日常报销") {
					t.Errorf("payload %+v", p)
				}
				mu.Lock()
				code := tt.statuses[min(hits, len(tt.statuses)-1)]
				hits++
				mu.Unlock()
				w.WriteHeader(code)
				io.WriteString(w, http.StatusText(code))
			}))
			defer srv.Close()
			clock := &fakeClock{}
			if tt.manual {
				clock.manual = make(chan chan time.Time, 1)
			}
			rec := make(recorder, 10)
			n := newNotifier(t, Config{Channels: []Channel{&Webhook{Client: srv.Client(), Secret: secret, Now: clock.Now}}, Record: rec.record, Clock: clock})
			to := Contact{Name: "王会计", Webhook: srv.URL + "/hook?token=s3cret", Email: "wang@example.cn"}
			if err := n.Notify(context.Background(), testMessage(to)); err != nil {
				t.Fatal(err)
			}
			if tt.manual {
				timer := <-clock.manual
				mu.Lock()
				if hits != 1 {
					t.Errorf("%d calls before the retry timer fired, want 1", hits)
				}
				mu.Unlock()
				timer <- epoch
			}
			d := rec.next(t)
			if d.OK != tt.ok || d.Attempts != tt.attempts || d.Channel != "webhook" || d.MessageID != testMessage().ID || !d.At.Equal(epoch) {
				t.Errorf("delivery %+v, want ok=%v attempts=%d", d, tt.ok, tt.attempts)
			}
			if d.To != srv.URL+"/hook" || strings.Contains(d.Err, "s3cret") {
				t.Errorf("delivery leaks the token: To %q Err %q", d.To, d.Err)
			}
			if !tt.ok && !strings.Contains(d.Err, http.StatusText(tt.statuses[len(tt.statuses)-1])) {
				t.Errorf("Err %q lacks the status", d.Err)
			}
			mu.Lock()
			if hits != tt.attempts {
				t.Errorf("server saw %d calls, want %d", hits, tt.attempts)
			}
			mu.Unlock()
			if tt.waits != nil && !equalDurations(clock.Waits(), tt.waits) {
				t.Errorf("backoff waits %v, want %v", clock.Waits(), tt.waits)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestVerify: a receiver accepts a delivery signed with the secret over its
// timestamp and body within 5 minutes either way, and refuses anything else,
// including a correct signature over the body alone (a replay cannot take a
// fresh timestamp).
func TestVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	ts := strconv.FormatInt(epoch.Unix(), 10)
	bodyOnly := hmac.New(sha256.New, secret)
	bodyOnly.Write(body)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		return h
	}
	good := webhookSignature(secret, ts, body)
	tests := []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"fresh", header(ts, good), body, epoch, nil},
		{"4m59s old", header(ts, good), body, epoch.Add(MaxWebhookAge - time.Second), nil},
		{"5m01s old", header(ts, good), body, epoch.Add(MaxWebhookAge + time.Second), ErrStale},
		{"an hour old", header(ts, good), body, epoch.Add(time.Hour), ErrStale},
		{"6 minutes ahead", header(ts, good), body, epoch.Add(-6 * time.Minute), ErrStale},
		{"body changed", header(ts, good), []byte(`{"id":"y"}`), epoch, ErrBadSignature},
		{"timestamp changed", header(strconv.FormatInt(epoch.Unix()+60, 10), good), body, epoch, ErrBadSignature},
		{"other secret", header(ts, webhookSignature([]byte("another-secret-0123"), ts, body)), body, epoch, ErrBadSignature},
		{"body-only signature", header(ts, "sha256="+hex.EncodeToString(bodyOnly.Sum(nil))), body, epoch, ErrBadSignature},
		{"no timestamp", header("", good), body, epoch, ErrBadSignature},
		{"timestamp not a number", header("2026-03-04T09:30:00Z", good), body, epoch, ErrBadSignature},
		{"no signature", header(ts, ""), body, epoch, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(secret, tt.h, tt.body, tt.now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWebhookWithoutSecretRefuses(t *testing.T) {
	err := (&Webhook{}).Send(context.Background(), testMessage(), Contact{Webhook: "http://127.0.0.1:1/x"})
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("err %v, want ErrPermanent", err)
	}
}

func TestBackoff(t *testing.T) {
	n := &Notifier{cfg: Config{Base: time.Second, Max: time.Minute}}
	tests := []struct {
		attempt int
		rand    float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.5, 750 * time.Millisecond},
		{3, 0, 2 * time.Second},
		{6, 0, 16 * time.Second},
		{7, 0, 30 * time.Second}, // 64s capped at 1m
		{40, 0.999999, 60 * time.Second},
	}
	for _, tt := range tests {
		n.cfg.Rand = func() float64 { return tt.rand }
		if got := n.backoff(tt.attempt); got < tt.want-time.Millisecond || got > tt.want {
			t.Errorf("backoff(%d) with rand %v = %v, want %v", tt.attempt, tt.rand, got, tt.want)
		}
	}
}

// smtpServer is just enough of an SMTP server to take mail on loopback;
// with starttls set it offers STARTTLS and upgrades with that config.
type smtpServer struct {
	addr     string
	starttls *tls.Config
	mu       sync.Mutex
	rcpt     []string // RCPT replies in turn; the last repeats
	calls    int
	sessions int
	got      []capturedMail
}

type capturedMail struct {
	from, to string
	data     []byte
	tls      bool // received after STARTTLS
}

func startSMTP(t *testing.T, rcptReplies ...string) *smtpServer {
	t.Helper()
	return startSMTPWith(t, nil, rcptReplies...)
}

func startSMTPWith(t *testing.T, starttls *tls.Config, rcptReplies ...string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &smtpServer{addr: ln.Addr().String(), rcpt: rcptReplies, starttls: starttls}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 127.0.0.1 test ESMTP")
	var m capturedMail
	secure := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			if s.starttls != nil && !secure {
				tp.PrintfLine("250-127.0.0.1")
				tp.PrintfLine("250 STARTTLS")
			} else {
				tp.PrintfLine("250 127.0.0.1")
			}
		case "STARTTLS":
			if s.starttls == nil || secure {
				tp.PrintfLine("502 not implemented")
				continue
			}
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(c, s.starttls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, tp, secure = tc, textproto.NewConn(tc), true
		case "HELO", "NOOP", "RSET":
			tp.PrintfLine("250 127.0.0.1")
		case "MAIL":
			m = capturedMail{from: arg, tls: secure}
			tp.PrintfLine("250 ok")
		case "RCPT":
			s.mu.Lock()
			reply := s.rcpt[min(s.calls, len(s.rcpt)-1)]
			s.calls++
			s.mu.Unlock()
			m.to = arg
			tp.PrintfLine("%s", reply)
		case "DATA":
			tp.PrintfLine("354 go ahead")
			if m.data, err = tp.ReadDotBytes(); err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, m)
			s.mu.Unlock()
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 not implemented")
		}
	}
}

func (s *smtpServer) mails() []capturedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]capturedMail(nil), s.got...)
}

// selfSigned returns a server config for 127.0.0.1 and a client config
// that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// TestSMTPRequireTLS: with RequireTLS, a server that offers STARTTLS gets
// the mail over TLS, and one that does not gets nothing: the delivery fails
// with ErrNoSTARTTLS, retried like any passing failure. Without it, mail is
// upgraded when offered and sent in clear text otherwise.
func TestSMTPRequireTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name       string
		offer      bool
		require    bool
		ok, secure bool
		attempts   int
	}{
		{name: "offered and required", offer: true, require: true, ok: true, secure: true, attempts: 1},
		{name: "not offered, required", offer: false, require: true, ok: false, attempts: 5},
		{name: "offered, not required", offer: true, require: false, ok: true, secure: true, attempts: 1},
		{name: "not offered, not required", offer: false, require: false, ok: true, secure: false, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var offer *tls.Config
			if tt.offer {
				offer = serverTLS
			}
			srv := startSMTPWith(t, offer, "250 ok")
			ch := &SMTP{Addr: srv.addr, From: "notify@sanzi.example.cn", RequireTLS: tt.require, TLS: clientTLS}
			if !tt.ok { // the error itself, from one attempt
				err := ch.Send(context.Background(), testMessage(), Contact{Email: "li@town.example.cn"})
				if !errors.Is(err, ErrNoSTARTTLS) || errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), srv.addr) {
					t.Errorf("Send: %v, want a retryable ErrNoSTARTTLS naming the server", err)
				}
			}
			rec := make(recorder, 10)
			n := newNotifier(t, Config{Channels: []Channel{ch}, Record: rec.record})
			if err := n.Notify(context.Background(), testMessage(Contact{Name: "李主任", Email: "li@town.example.cn"})); err != nil {
				t.Fatal(err)
			}
			d := rec.next(t)
			if d.OK != tt.ok || d.Attempts != tt.attempts {
				t.Fatalf("delivery %+v, want ok=%v attempts=%d", d, tt.ok, tt.attempts)
			}
			mails := srv.mails()
			if !tt.ok {
				srv.mu.Lock()
				sessions := srv.sessions
				srv.mu.Unlock()
				if len(mails) != 0 || !strings.Contains(d.Err, "STARTTLS") || sessions != 1+tt.attempts {
					t.Errorf("refused server: %d mails captured, %d sessions (want %d), Err %q", len(mails), sessions, 1+tt.attempts, d.Err)
				}
				return
			}
			if len(mails) != 1 || mails[0].tls != tt.secure {
				t.Fatalf("captured %+v, want one mail with tls=%v", mails, tt.secure)
			}
		})
	}
}

func TestSMTP(t *testing.T) {
	tests := []struct {
		name     string
		rcpt     []string
		ok       bool
		attempts int
	}{
		{name: "accepted", rcpt: []string{"250 ok"}, ok: true, attempts: 1},
		{name: "550 is permanent", rcpt: []string{"550 no such user"}, ok: false, attempts: 1},
		{name: "451 is retried", rcpt: []string{"451 try later", "250 ok"}, ok: true, attempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.rcpt...)
			rec := make(recorder, 10)
			n := newNotifier(t, Config{
				Channels: []Channel{&SMTP{Addr: srv.addr, From: "三资监管 <notify@sanzi.example.cn>"}},
				Record:   rec.record,
			})
			m := testMessage(Contact{Name: "李主任", Email: "li@town.example.cn"})
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			d := rec.next(t)
			if d.OK != tt.ok || d.Attempts != tt.attempts || d.Channel != "smtp" || d.To != "li@town.example.cn" {
				t.Fatalf("delivery %+v, want ok=%v attempts=%d", d, tt.ok, tt.attempts)
			}
			mails := srv.mails()
			if !tt.ok {
				if len(mails) != 0 || !strings.Contains(d.Err, "550") {
					t.Errorf("refused mail: %d captured, Err %q", len(mails), d.Err)
				}
				return
			}
			if len(mails) != 1 {
				t.Fatalf("%d mails captured, want 1", len(mails))
			}
			got := mails[0]
			if got.to != "TO:<li@town.example.cn>" || got.from != "FROM:<notify@sanzi.example.cn>" {
				t.Errorf("envelope from %q to %q", got.from, got.to)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
			if err != nil {
				t.Fatal(err)
			}
			var dec mime.WordDecoder
			if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err != nil || subj != m.Subject {
				t.Errorf("subject %q decodes to %q (%v), want %q", msg.Header.Get("Subject"), subj, err, m.Subject)
			}
			if to, err := msg.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != "李主任" || to[0].Address != "li@town.example.cn" {
				t.Errorf("To %q: %v %v", msg.Header.Get("To"), to, err)
			}
			if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			body, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(m.Body, "\n", "\r\n"); string(body) != want {
				t.Errorf("body %q, want %q", body, want)
			}
		})
	}
}

// blockingChannel holds each Send until released (or ctx ends) and tells
// the test when one has started.
type blockingChannel struct {
	started chan string
	release chan struct{}
}

func newBlocking() *blockingChannel {
	return &blockingChannel{started: make(chan string, 100), release: make(chan struct{})}
}

func (b *blockingChannel) Name() string { return "blocking" }

func (b *blockingChannel) Send(ctx context.Context, m Message, to Contact) error {
	b.started <- to.Name
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestQueueFull(t *testing.T) {
	ch := newBlocking()
	rec := make(recorder, 10)
	n := newNotifier(t, Config{Channels: []Channel{ch}, Record: rec.record, Workers: 1, QueueLen: 2})
	a, b, c := Contact{Name: "a"}, Contact{Name: "b"}, Contact{Name: "c"}
	ctx := context.Background()
	if err := n.Notify(ctx, testMessage(a)); err != nil {
		t.Fatal(err)
	}
	<-ch.started // the only worker is busy; the queue is empty
	if err := n.Notify(ctx, testMessage(a, b, c)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("3 deliveries into room for 2: err %v, want ErrQueueFull", err)
	}
	if err := n.Notify(ctx, testMessage(b, c)); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, testMessage(a)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("full queue: err %v, want ErrQueueFull", err)
	}
	close(ch.release)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec) != 3 {
		t.Errorf("%d deliveries recorded, want 3 (nothing of the refused messages)", len(rec))
	}
}

func TestClose(t *testing.T) {
	t.Run("waits for in-flight deliveries", func(t *testing.T) {
		ch := newBlocking()
		rec := make(recorder, 10)
		n := newNotifier(t, Config{Channels: []Channel{ch}, Record: rec.record, Workers: 2})
		if err := n.Notify(context.Background(), testMessage(Contact{Name: "a"}, Contact{Name: "b"}, Contact{Name: "c"})); err != nil {
			t.Fatal(err)
		}
		<-ch.started
		closed := make(chan error, 1)
		go func() { closed <- n.Close(context.Background()) }()
		// Close cannot return while a Send is held, so this check is exact.
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v with a delivery in flight", err)
		default:
		}
		close(ch.release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if len(rec) < 3 {
			t.Errorf("%d deliveries recorded when Close returned, want all", len(rec))
		}
		for range len(rec) {
			if d := <-rec; !d.OK {
				t.Errorf("delivery %+v failed", d)
			}
		}
		if err := n.Notify(context.Background(), testMessage(Contact{Name: "e"})); !errors.Is(err, ErrClosed) {
			t.Errorf("Notify after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("gives up when ctx ends", func(t *testing.T) {
		ch := newBlocking()
		rec := make(recorder, 10)
		n := newNotifier(t, Config{Channels: []Channel{ch}, Record: rec.record, Workers: 1})
		if err := n.Notify(context.Background(), testMessage(Contact{Name: "a"}, Contact{Name: "b"})); err != nil {
			t.Fatal(err)
		}
		<-ch.started
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := n.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close: %v, want context.Canceled", err)
		}
		for range 2 {
			if d := rec.next(t); d.OK || !strings.Contains(d.Err, "abandoned") {
				t.Errorf("abandoned delivery recorded as %+v", d)
			}
		}
	})
}

func TestContacts(t *testing.T) {
	cs := StaticContacts{
		"110101001001/village.head":  {{Name: "张村长", Email: "zhang@v.example.cn"}},
		"110101001002/town.reviewer": {},
		"*/town.reviewer":            {{Name: "镇审核员", Email: "review@town.example.cn"}},
	}
	tests := []struct {
		org, post string
		want      []string
	}{
		{"110101001001", "village.head", []string{"张村长"}},
		{"110101001001", "town.reviewer", []string{"镇审核员"}},
		{"110101001002", "town.reviewer", []string{"镇审核员"}}, // empty list falls back
		{"110101001003", "village.head", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range cs.ForPost(tt.org, tt.post) {
			got = append(got, c.Name)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("ForPost(%s, %s) = %v, want %v", tt.org, tt.post, got, tt.want)
		}
	}
}

func TestNotifyResolvesAndRoutes(t *testing.T) {
	var mu sync.Mutex
	hooks := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hooks[r.URL.Path]++
		mu.Unlock()
	}))
	defer hook.Close()
	mailSrv := startSMTP(t, "250 ok")
	cs := StaticContacts{"*/town.supervisor": {
		{Name: "只有邮箱", Email: "mail-only@town.example.cn"},
		{Name: "只有回调", Webhook: hook.URL + "/b"},
		{Name: "都有", Email: "both@town.example.cn", Webhook: hook.URL + "/c"},
		{Name: "只有电话", Phone: "13800000000"},
	}}
	rec := make(recorder, 10)
	n := newNotifier(t, Config{
		Contacts: cs,
		Channels: []Channel{&Webhook{Client: hook.Client(), Secret: secret}, &SMTP{Addr: mailSrv.addr, From: "notify@sanzi.example.cn"}},
		Record:   rec.record,
	})
	m := testMessage()
	m.Post = "town.supervisor"
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for range len(rec) {
		d := <-rec
		if !d.OK {
			t.Errorf("delivery %+v failed", d)
		}
		got[d.Channel+" "+strings.TrimPrefix(d.To, hook.URL)] = true
	}
	want := []string{"smtp mail-only@town.example.cn", "webhook /b", "smtp both@town.example.cn", "webhook /c"}
	if len(got) != len(want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no delivery %q in %v", w, got)
		}
	}
	if len(hooks) != 2 || hooks["/b"] != 1 || hooks["/c"] != 1 {
		t.Errorf("webhook calls %v: the email-only contact must get none", hooks)
	}
	if len(mailSrv.mails()) != 2 {
		t.Errorf("%d mails, want 2", len(mailSrv.mails()))
	}

	t.Run("refusals", func(t *testing.T) {
		n := newNotifier(t, Config{Contacts: cs, Channels: []Channel{&Webhook{Secret: secret}}, Record: rec.record})
		tests := []struct {
			name string
			edit func(*Message)
			want error
		}{
			{"nobody holds the post", func(m *Message) { m.Post = "district.discipline" }, ErrNoRecipients},
			{"no channel reaches them", func(m *Message) { m.To = []Contact{{Name: "只有电话", Phone: "13800000000"}} }, ErrNoRecipients},
			{"no ID", func(m *Message) { m.ID = "" }, ErrInvalidMessage},
			{"unknown kind", func(m *Message) { m.Kind = "orange_card" }, ErrInvalidMessage},
		}
		for _, tt := range tests {
			m := testMessage()
			tt.edit(&m)
			if err := n.Notify(context.Background(), m); !errors.Is(err, tt.want) {
				t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
			}
		}
	})
}

func TestTemplates(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	deadline := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC) // 17:30 in Beijing
	tests := []struct {
		name string
		m    Message
		kind string
		want []string
	}{
		{"warning", DeadlineMessage(KindWarning, "110101001001", "village.accountant", "日常报销", "审核", "王会计", deadline, cst),
			KindWarning, []string{"【三资监管·预警】", "「日常报销」", "「审核」", "截止 2026-03-04 17:30", "王会计"}},
		{"yellow card", DeadlineMessage(KindYellowCard, "110101001001", "village.accountant", "日常报销", "审核", "", deadline, cst),
			KindYellowCard, []string{"【三资监管·黄牌】事项「日常报销」的步骤「审核」已超过办理时限（截止 2026-03-04 17:30），请立即办理。"}},
		{"red card", DeadlineMessage(KindRedCard, "110101001001", "town.leader", "资产处置", "审批", "李主任", deadline, cst),
			KindRedCard, []string{"【三资监管·红牌】", "「资产处置」", "「审批」", "截止 2026-03-04 17:30", "书面说明", "李主任"}},
		{"nil location is UTC", DeadlineMessage(KindYellowCard, "110101001001", "p", "日常报销", "审核", "", deadline, nil),
			KindYellowCard, []string{"截止 2026-03-04 09:30"}},
		{"alert", AlertMessage("110101001001", "town.reviewer", "110101001001-42", "SPLIT", "red", "同一收款人7日内3笔付款合计超过限额。", "110101001001-40"),
			KindAlert, []string{"【三资监管·监管预警】", "SPLIT", "红色", "同一收款人7日内3笔付款合计超过限额", "110101001001-40", "110101001001-42", "超过限额。请在"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.m.Kind != tt.kind || tt.m.ID == "" || tt.m.Subject == "" {
				t.Errorf("message %+v", tt.m)
			}
			for _, w := range tt.want {
				if !strings.Contains(tt.m.Body, w) {
					t.Errorf("body %q lacks %q", tt.m.Body, w)
				}
			}
		})
	}
	if d := DeadlineMessage(KindWarning, "o", "p", "m", "s", "", deadline, cst).Data["deadline"]; d != "2026-03-04T09:30:00Z" {
		t.Errorf("Data deadline %q, want RFC 3339 UTC", d)
	}
	a := AlertMessage("o", "town.reviewer", "o-1", "SPLIT", "red", "r", "o-0")
	b := AlertMessage("o", "district.discipline", "o-1", "SPLIT", "red", "r", "o-0")
	if a.ID == b.ID || a.Data["rule_code"] != "SPLIT" || a.Data["alert_id"] != "o-1" {
		t.Errorf("alert ids %q %q, data %v", a.ID, b.ID, a.Data)
	}
}
