package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook headers.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, under the shared
	// secret, of the timestamp header's value, ".", and the exact body.
	HeaderSignature = "X-Sanzi-Signature"
	// HeaderTimestamp is when the request was signed, in Unix seconds.
	HeaderTimestamp = "X-Sanzi-Timestamp"
	// HeaderDelivery is the message ID, the same on every retry.
	HeaderDelivery = "X-Sanzi-Delivery"
)

// MaxWebhookAge is how old (or how far ahead, for clock skew) a delivery's
// timestamp may be before Verify refuses it. A captured delivery can be
// replayed only within it, where the receiver's duplicate check by
// HeaderDelivery catches it.
const MaxWebhookAge = 5 * time.Minute

// Webhook posts each message as JSON to Contact.Webhook, signed so the
// receiver can tell it came from us and recently: HeaderSignature signs
// HeaderTimestamp and the body together, so a captured delivery cannot be
// replayed later with a fresh timestamp. Receivers must check both with
// Verify (or the same computation): refuse a bad signature and a timestamp
// older than MaxWebhookAge (5 minutes), and drop duplicates by
// HeaderDelivery, which carries the message ID (a retry after a lost
// response sends the same message again, signed anew). A 2xx is success; a
// 4xx other than 408 and 429 is permanent; anything else is retried.
type Webhook struct {
	// Client; nil means a client with a 30 s timeout.
	Client *http.Client
	// Secret keys the signature; a webhook without one refuses to send.
	Secret []byte
	// Now stamps each request; nil means time.Now.
	Now func() time.Time
}

// webhookSignature is the HeaderSignature value of body sent at ts.
func webhookSignature(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify is what a webhook receiver runs on each request before acting on
// it: the signature must be the secret's over the timestamp and body, and
// the timestamp within MaxWebhookAge of now (either way). It returns
// ErrBadSignature or ErrStale. Receivers then drop a HeaderDelivery they
// have already handled.
func Verify(secret []byte, h http.Header, body []byte, now time.Time) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q is not Unix seconds: %w", HeaderTimestamp, ts, ErrBadSignature)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(webhookSignature(secret, ts, body))) {
		return fmt.Errorf("%s does not match the body and %s: %w", HeaderSignature, HeaderTimestamp, ErrBadSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > MaxWebhookAge || age < -MaxWebhookAge {
		return fmt.Errorf("signed at %s, %s from now (at most %s): %w", time.Unix(sec, 0).UTC().Format(time.RFC3339), age.Round(time.Second), MaxWebhookAge, ErrStale)
	}
	return nil
}

// webhookPayload is the JSON body of a webhook call.
type webhookPayload struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Org     string            `json:"org"`
	Post    string            `json:"post"`
	Subject string            `json:"subject"`
	Body    string            `json:"body"`
	Data    map[string]string `json:"data"`
	To      struct {
		Name string `json:"name"`
	} `json:"to"`
}

// Name is "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Address is Contact.Webhook without its query, fragment and user info,
// which often hold access tokens and must not end up in the ledger.
func (w *Webhook) Address(to Contact) string {
	if to.Webhook == "" {
		return ""
	}
	u, err := url.Parse(to.Webhook)
	if err != nil {
		s, _, _ := strings.Cut(to.Webhook, "?")
		return s
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// Send makes one signed POST.
func (w *Webhook) Send(ctx context.Context, m Message, to Contact) error {
	addr := w.Address(to)
	if addr == "" {
		return fmt.Errorf("webhook: contact %q has no webhook: %w", to.Name, ErrPermanent)
	}
	if len(w.Secret) == 0 {
		return fmt.Errorf("webhook %s: no signing secret configured: %w", addr, ErrPermanent)
	}
	p := webhookPayload{ID: m.ID, Kind: m.Kind, Org: m.Org, Post: m.Post, Subject: m.Subject, Body: m.Body, Data: m.Data}
	p.To.Name = to.Name
	body, _ := json.Marshal(p) // strings and a string map always encode
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.Webhook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: build request: %w: %w", addr, ErrPermanent, redactURL(err, addr))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sanzi-notify")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, webhookSignature(w.Secret, ts, body))
	req.Header.Set(HeaderDelivery, m.ID)
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", addr, redactURL(err, addr))
	}
	defer resp.Body.Close()
	// Keep a little of the answer for the record; drain to reuse the conn.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("webhook %s: %s: %q", addr, resp.Status, bytes.TrimSpace(snippet))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	return err
}

// redactURL replaces the URL that net/http puts in its errors, query and
// all, with the redacted address.
func redactURL(err error, addr string) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		ue.URL = addr
	}
	return err
}

// smtpTimeout bounds one SMTP conversation.
const smtpTimeout = 2 * time.Minute

// SMTP mails each message as UTF-8 plain text to Contact.Email through the
// server at Addr, upgrading to TLS when the server offers STARTTLS. With
// RequireTLS a server that does not offer it is refused before any mail is
// sent (ErrNoSTARTTLS): anyone on the path can strip the offer from the
// server's greeting and read the mail. A 5xx reply is permanent; connection
// failures, 4xx replies and a missing STARTTLS are retried. One
// conversation is bounded by ctx and by 2 minutes.
type SMTP struct {
	Addr string    // host:port of the submission server
	From string    // envelope and header sender, e.g. "三资监管 <notify@example.gov.cn>"
	Auth smtp.Auth // optional, e.g. smtp.PlainAuth
	// RequireTLS refuses a server that does not offer STARTTLS.
	RequireTLS bool
	// TLS verifies the server after STARTTLS; nil means the system roots
	// and Addr's host name.
	TLS *tls.Config
}

// Name is "smtp".
func (s *SMTP) Name() string { return "smtp" }

// Address is Contact.Email.
func (s *SMTP) Address(to Contact) string { return to.Email }

// Send holds one SMTP conversation for one recipient.
func (s *SMTP) Send(ctx context.Context, m Message, to Contact) error {
	rcpt, err := mail.ParseAddress(to.Email)
	if err != nil {
		return fmt.Errorf("smtp: recipient %q: %w: %w", to.Email, ErrPermanent, err)
	}
	rcpt.Name = to.Name
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return fmt.Errorf("smtp: sender %q: %w: %w", s.From, ErrPermanent, err)
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp: server address %q: %w: %w", s.Addr, ErrPermanent, err)
	}
	msg := compose(m, from, rcpt, time.Now())

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	// net/smtp takes no context: ctx ending (or 2 minutes) expires the
	// connection, which fails whatever step is waiting.
	_ = conn.SetDeadline(time.Now().Add(smtpTimeout))
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpErr(ctx, s.Addr, "greeting", err)
	}
	defer c.Close()
	step := ""
	try := func(name string, f func() error) {
		if err == nil {
			step, err = name, f()
		}
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		try("STARTTLS", func() error { return c.StartTLS(cfg) })
	} else if s.RequireTLS {
		return fmt.Errorf("smtp %s: refusing to send in clear text (--smtp-require-tls): %w", s.Addr, ErrNoSTARTTLS)
	}
	if s.Auth != nil {
		try("AUTH", func() error { return c.Auth(s.Auth) })
	}
	try("MAIL", func() error { return c.Mail(from.Address) })
	try("RCPT "+rcpt.Address, func() error { return c.Rcpt(rcpt.Address) })
	try("DATA", func() error {
		wc, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := wc.Write(msg); err != nil {
			return err
		}
		return wc.Close()
	})
	if err != nil {
		return smtpErr(ctx, s.Addr, step, err)
	}
	// The mail is accepted; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// smtpErr names the step that failed and marks 5xx replies permanent; an
// error caused by ctx ending reports ctx's error too.
func smtpErr(ctx context.Context, addr, step string, err error) error {
	err = fmt.Errorf("smtp %s: %s: %w", addr, step, err)
	if te, ok := errors.AsType[*textproto.Error](err); ok && te.Code >= 500 {
		return fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return err
}

// compose builds the mail: RFC 2047 encoded headers, so Chinese subjects
// and names survive any server, and a base64 body, which needs neither
// 8BITMIME nor care about line length or leading dots. The Message-ID is
// derived from the message ID and recipient, so a retry of a mail the
// server took but did not confirm can be recognised as the same mail.
func compose(m Message, from, to *mail.Address, now time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	sum := sha256.Sum256([]byte(m.ID + "\x00" + to.Address))
	_, domain, _ := strings.Cut(from.Address, "@")
	h("From", from.String())
	h("To", to.String())
	h("Subject", mime.BEncoding.Encode("UTF-8", m.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(sum[:16])+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=UTF-8")
	h("Content-Transfer-Encoding", "base64")
	h("X-Sanzi-Delivery", mime.QEncoding.Encode("UTF-8", m.ID))
	b.WriteString("\r\n")
	text := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(text))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}
