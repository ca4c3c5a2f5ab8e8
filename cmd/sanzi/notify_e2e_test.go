package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/notify"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestNotificationsReachWebhookAndSMTP runs a village node with a webhook
// secret, a mail server and contacts, raises a red alert and checks that the
// town reviewer's webhook gets a signed message (retried, under the same
// delivery id, after a 500), that the town leader gets mail, and that both
// deliveries are recorded in the ledger.
func TestNotificationsReachWebhookAndSMTP(t *testing.T) {
	secret := []byte("e2e-webhook-secret-0123456789")
	hook := &hookReceiver{secret: secret}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	mailSrv := startMailServer(t)

	dir := t.TempDir()
	contacts := map[string][]map[string]string{
		"*/town.reviewer": {{"Name": "王审核", "Webhook": srv.URL + "/hook"}},
		"*/town.leader":   {{"Name": "李镇长", "Email": "leader@town.example.cn"}},
	}
	raw, _ := json.Marshal(contacts)
	contactsFile, secretFile := filepath.Join(dir, "contacts.json"), filepath.Join(dir, "secret")
	if err := os.WriteFile(contactsFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, filepath.Join(dir, "data"), "--contacts", contactsFile, "--webhook-secret-file", secretFile,
		"--smtp-addr", mailSrv.addr, "--smtp-from", "三资监管 <sanzi@e2e.example.cn>")

	start := time.Now()
	person := set(set(tx(1), "transaction.amountFen", 200000), "transaction.counterparty",
		map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"})
	var rec recorded
	if code, raw := n.post("/v1/transactions", person, &rec); code != 200 {
		t.Fatalf("record: %d %s", code, raw)
	}

	// Both deliveries finish before they are recorded, so once the ledger
	// holds two notification entries the receivers have seen everything.
	var deliveries []*sanziv1.NotificationDelivery
	deadline := time.Now().Add(30 * time.Second)
	for {
		deliveries = notificationEntries(t, n)
		if len(deliveries) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d notification entries; webhook requests %v; mails %d\nnode log:\n%s",
				len(deliveries), hook.snapshot(), len(mailSrv.mails()), n.log)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	elapsed := time.Since(start)

	// Webhook: every request correctly signed, the first refused, the retry
	// carrying the same delivery id, one distinct message for the reviewer.
	reqs := hook.snapshot()
	if len(reqs) != 2 {
		t.Fatalf("webhook requests: %d, want 2 (a 500, then the retry): %+v", len(reqs), reqs)
	}
	for i, r := range reqs {
		if !r.signed {
			t.Errorf("webhook request %d: signature %q over %s refused: %v", i, r.sig, r.body, r.verr)
		}
		if r.id == "" || !strings.Contains(r.body, "PRIVATE-ACCT") {
			t.Errorf("webhook request %d: delivery id %q, body %s", i, r.id, r.body)
		}
	}
	if reqs[0].status != 500 || reqs[1].status != 200 {
		t.Errorf("webhook answers %d, %d; want 500, 200", reqs[0].status, reqs[1].status)
	}
	if reqs[0].id != reqs[1].id {
		t.Errorf("retry has delivery id %q, the failed request had %q", reqs[1].id, reqs[0].id)
	}
	// A captured delivery replayed later is refused by its signed timestamp.
	if err := notify.Verify(secret, reqs[1].header, []byte(reqs[1].body), time.Now().Add(notify.MaxWebhookAge+time.Minute)); !errors.Is(err, notify.ErrStale) {
		t.Errorf("delivery replayed 6 minutes later: %v, want ErrStale", err)
	}
	var p struct {
		ID   string            `json:"id"`
		Kind string            `json:"kind"`
		Org  string            `json:"org"`
		Post string            `json:"post"`
		Data map[string]string `json:"data"`
		To   struct{ Name string }
	}
	if err := json.Unmarshal([]byte(reqs[1].body), &p); err != nil {
		t.Fatalf("webhook body: %v: %s", err, reqs[1].body)
	}
	if p.ID != reqs[1].id || p.Kind != "alert" || p.Org != org || p.Post != "town.reviewer" ||
		p.Data["rule_code"] != "PRIVATE-ACCT" || p.Data["subject_id"] != rec.Entry.ID || p.To.Name != "王审核" {
		t.Errorf("webhook payload: %+v", p)
	}
	if got := hook.distinct(); len(got) != 1 || got[0] != reqs[1].id {
		t.Errorf("distinct messages accepted by the reviewer's webhook: %v, want [%s]", got, reqs[1].id)
	}

	// Mail: one message to the leader, about the alert.
	mails := mailSrv.mails()
	if len(mails) != 1 {
		t.Fatalf("mails: %d, want 1", len(mails))
	}
	if !strings.Contains(mails[0].to, "leader@town.example.cn") {
		t.Errorf("mail RCPT %q", mails[0].to)
	}
	subject, body := decodeMail(t, mails[0].data)
	if !strings.Contains(subject, "PRIVATE-ACCT") || !strings.Contains(body, "PRIVATE-ACCT") || !strings.Contains(body, rec.Entry.ID) {
		t.Errorf("mail subject %q, body %q", subject, body)
	}

	// Ledger: one delivered entry per channel, with the attempts made.
	byChannel := map[string]*sanziv1.NotificationDelivery{}
	for _, d := range deliveries {
		byChannel[d.GetChannel()] = d
	}
	if w := byChannel["webhook"]; w == nil || !w.GetDelivered() || w.GetAttempts() != 2 || w.GetPost() != "town.reviewer" ||
		w.GetMessageId() != reqs[1].id || w.GetAddress() != srv.URL+"/hook" {
		t.Errorf("webhook delivery entry: %v", w)
	}
	if m := byChannel["smtp"]; m == nil || !m.GetDelivered() || m.GetAttempts() != 1 || m.GetPost() != "town.leader" ||
		m.GetAddress() != "leader@town.example.cn" {
		t.Errorf("smtp delivery entry: %v", m)
	}
	if len(deliveries) != 2 {
		t.Errorf("%d notification entries, want 2: %v", len(deliveries), deliveries)
	}
	t.Logf("alert %s: webhook delivered on attempt 2, mail on attempt 1, both recorded, %v after recording", p.Data["alert_id"], elapsed.Round(time.Millisecond))
}

// notificationEntries reads the org's chain over REST and decodes the
// entries of type ENTRY_TYPE_NOTIFICATION.
func notificationEntries(t *testing.T, n *node) []*sanziv1.NotificationDelivery {
	t.Helper()
	var out []*sanziv1.NotificationDelivery
	for from := "1"; from != "0"; {
		var page struct {
			Entries []struct {
				Entry struct {
					Body []byte `json:"body"`
				} `json:"entry"`
				Meta struct {
					Type string `json:"type"`
				} `json:"meta"`
			} `json:"entries"`
			NextSeq string `json:"nextSeq"`
		}
		if code, raw := n.call("GET", "/v1/ledger/"+org+"/entries?from_seq="+from+"&limit=1000", "", nil, &page); code != 200 {
			t.Fatalf("list entries: %d %s", code, raw)
		}
		for _, e := range page.Entries {
			if e.Meta.Type != "ENTRY_TYPE_NOTIFICATION" {
				continue
			}
			var body sanziv1.EntryBody
			var d sanziv1.NotificationDelivery
			if err := proto.Unmarshal(e.Entry.Body, &body); err != nil {
				t.Fatalf("entry body: %v", err)
			}
			if err := proto.Unmarshal(body.GetPayload(), &d); err != nil {
				t.Fatalf("notification payload: %v", err)
			}
			out = append(out, &d)
		}
		from = page.NextSeq
		if from == "" {
			from = "0"
		}
	}
	return out
}

// hookReceiver is the town reviewer's webhook: it checks every signature,
// refuses the first request with a 500 and accepts the rest, dropping
// duplicates by X-Sanzi-Delivery.
type hookReceiver struct {
	secret   []byte
	mu       sync.Mutex
	reqs     []hookRequest
	accepted map[string]bool
	order    []string
}

type hookRequest struct {
	id, sig, body string
	header        http.Header
	signed        bool
	verr          error // why Verify refused it
	status        int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	verr := notify.Verify(h.secret, r.Header, body, time.Now())
	req := hookRequest{id: r.Header.Get(notify.HeaderDelivery), sig: r.Header.Get(notify.HeaderSignature), body: string(body),
		header: r.Header.Clone(), signed: verr == nil, verr: verr}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !req.signed || r.Method != http.MethodPost:
		req.status = http.StatusUnauthorized
	case len(h.reqs) == 0:
		req.status = http.StatusInternalServerError
	default:
		req.status = http.StatusOK
		if h.accepted == nil {
			h.accepted = map[string]bool{}
		}
		if !h.accepted[req.id] {
			h.accepted[req.id] = true
			h.order = append(h.order, req.id)
		}
	}
	h.reqs = append(h.reqs, req)
	w.WriteHeader(req.status)
}

func (h *hookReceiver) snapshot() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

func (h *hookReceiver) distinct() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.order...)
}

// mailServer is just enough of an SMTP server to take mail on loopback
// (a copy of the one in node/notify's tests).
type mailServer struct {
	addr string
	mu   sync.Mutex
	got  []mailCaptured
}

type mailCaptured struct {
	from, to string
	data     []byte
}

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &mailServer{addr: ln.Addr().String()}
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

func (s *mailServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 127.0.0.1 test ESMTP")
	var m mailCaptured
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO", "NOOP", "RSET":
			tp.PrintfLine("250 127.0.0.1")
		case "MAIL":
			m = mailCaptured{from: arg}
			tp.PrintfLine("250 ok")
		case "RCPT":
			m.to = arg
			tp.PrintfLine("250 ok")
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

func (s *mailServer) mails() []mailCaptured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mailCaptured(nil), s.got...)
}

// decodeMail returns a captured mail's decoded subject and body.
func decodeMail(t *testing.T, data []byte) (string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("mail subject: %v", err)
	}
	raw, err := io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "base64") {
		dec, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(body))
		if err != nil {
			t.Fatalf("mail body: %v\n%s", err, data)
		}
		body = string(dec)
	}
	return subject, body
}
