package member

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/freeport"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/notify"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// webhookSink is a receiver of signed webhook notifications: it checks each
// request with notify.Verify and counts the deliveries by message ID.
type webhookSink struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    map[string]int               // message id -> requests
	data   map[string]map[string]string // message id -> its data
}

func (w *webhookSink) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := notify.Verify(w.secret, r.Header, body, time.Now()); err != nil {
		w.t.Errorf("webhook delivery not signed with the secret: %v", err)
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p struct {
		ID   string            `json:"id"`
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.ID != r.Header.Get(notify.HeaderDelivery) {
		w.t.Errorf("webhook body %s (header id %q): %v", body, r.Header.Get(notify.HeaderDelivery), err)
	}
	w.mu.Lock()
	w.got[p.ID]++
	w.data[p.ID] = p.Data
	w.mu.Unlock()
}

func (w *webhookSink) counts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for k, v := range w.got {
		out[k] = v
	}
	return out
}

func freeAddr(t *testing.T) string {
	return freeport.Loopback(t)
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// TestTamperNotifiedOnceByTheLeader: a TAMPER finding recorded at the
// district (an entry pushed with a signature that does not verify) is
// sent, signed, to each post that handles it and has a contact (the
// town's reviewer, the district's discipline office; the town leader has
// none), once; every member holds the record of each delivery; and after
// the leader is stopped, the new leader sends nothing again but does send
// a new finding.
func TestTamperNotifiedOnceByTheLeader(t *testing.T) {
	const village = "350505100201"
	ca, err := pki.NewCA("350505", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sink := &webhookSink{t: t, secret: []byte("0123456789abcdef-secret"), got: map[string]int{}, data: map[string]map[string]string{}}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	contacts := notify.StaticContacts{
		"*/town.reviewer":                  {{Name: "王五", Webhook: srv.URL + "/town?token=x"}},
		"350505000000/district.discipline": {{Name: "赵六", Webhook: srv.URL + "/district"}},
	}
	dir := t.TempDir()
	members := map[string]*Member{} // the running members
	stops := map[*Member]func() error{}
	var joinAt string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		iss, err := ca.Issue("350505000000", pki.RoleDistrict, nil, time.Now()) // a key of its own, as `sanzi ca issue` gives each member
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{APIListen: "127.0.0.1:0", Pool: ca.Pool(), Cert: iss.TLSCertificate(), Join: joinAt,
			Cluster: cluster.Config{ID: id, RaftAddr: freeAddr(t), DataDir: filepath.Join(dir, id), Bootstrap: i == 1,
				HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
			Notify:      notify.Setup{Contacts: contacts, WebhookSecret: sink.secret},
			NotifyEvery: 100 * time.Millisecond,
		}
		m, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		stop := sync.OnceValue(m.Stop) // a member stops once, by the test or at its end
		stops[m] = stop
		t.Cleanup(func() { stop() })
		members[id] = m
		if i == 1 {
			joinAt = m.APIAddr()
			eventually(t, 10*time.Second, "d1 to lead", m.Node().IsLeader)
		}
	}
	leader := func() *Member {
		var out *Member
		eventually(t, 15*time.Second, "a leader", func() bool {
			for _, m := range members {
				if m.Node().IsLeader() {
					out = m
					return true
				}
			}
			return false
		})
		return out
	}
	eventually(t, 15*time.Second, "three voters", func() bool { return len(leader().Node().FSM().Members()) == 3 })

	vkey, other := newKey(t), newKey(t)
	vcert, err := ca.Issue(village, pki.RoleVillage, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := leader().Node().RegisterOrigin(village, vkey.Public().(ed25519.PublicKey), vcert.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	// tamper pushes an entry at seq 1 of the village's chain, with payload
	// b, signed with a key that is not the village's: refused, and
	// recorded as a finding, the same entry (the same b) once.
	at := time.Now()
	tamper := func(t *testing.T, b byte) (id string) {
		t.Helper()
		m := leader()
		head := m.Node().FSM().Head(village)
		s, err := ledger.Seal(other, head, ledger.Record{Origin: village, Author: "x", Type: sanziv1.EntryType_ENTRY_TYPE_ALERT, Payload: []byte{b}}, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Node().Push(context.Background(), [][]byte{s.Raw}); err == nil {
			t.Fatal("an entry signed with another key was accepted")
		}
		forks, err := m.Node().FSM().Forks(village)
		var f *sanziv1.ForkRecord
		for _, r := range forks {
			if string(r.GetEntry()) == string(s.Raw) {
				f = r
			}
		}
		if err != nil || f == nil {
			t.Fatalf("no finding recorded of the entry pushed (%d findings): %v", len(forks), err)
		}
		if f.GetKind() != sanziv1.TamperKind_TAMPER_KIND_SIGNATURE {
			t.Fatalf("finding of kind %v, want SIGNATURE", f.GetKind())
		}
		return notify.TamperID(f.GetOrigin(), f.GetSeq(), f.GetSentHash())
	}
	want := func(alert string) map[string]int {
		return map[string]int{alert + "/alert/town.reviewer": 1, alert + "/alert/district.discipline": 1}
	}
	// settled waits until every member holds n recorded deliveries, then
	// checks the receiver got exactly want.
	settled := func(t *testing.T, n int, want map[string]int) {
		t.Helper()
		for id, m := range members {
			eventually(t, 15*time.Second, fmt.Sprintf("%d deliveries recorded on %s", n, id), func() bool {
				ds, err := m.Node().FSM().Deliveries("")
				return err == nil && len(ds) == n
			})
		}
		got := sink.counts()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("webhook deliveries %v, want %v", got, want)
		}
	}

	t.Run("finding told once to each post with a contact", func(t *testing.T) {
		first := tamper(t, 1)
		settled(t, 2, want(first))
		d := sink.data[first+"/alert/town.reviewer"]
		if d["village"] != village || d["seq"] != "1" || d["rule_code"] != "TAMPER" || d["tamper_kind"] != "SIGNATURE" {
			t.Fatalf("delivery data %v: want village %s, seq 1, TAMPER, SIGNATURE", d, village)
		}
		ds, _ := leader().Node().FSM().Deliveries(first + "/alert/town.reviewer")
		if len(ds) != 1 || !ds[0].GetDelivered() || ds[0].GetOrg() != "350505100000" || ds[0].GetAddress() != srv.URL+"/town" || ds[0].GetChannel() != "webhook" {
			t.Fatalf("recorded delivery %v: want one delivered webhook to the town 350505100000 at %s/town (no token)", ds, srv.URL)
		}
	})

	t.Run("new leader tells nothing twice", func(t *testing.T) {
		first := tamper(t, 1) // the same entry again: the same finding, recorded once
		old := leader()
		delete(members, old.cfg.Cluster.ID)
		if err := stops[old](); err != nil {
			t.Logf("stop the leader: %v", err)
		}
		leader()
		second := tamper(t, 2) // the same seq, another entry: another finding
		if second == first {
			t.Fatal("two different entries gave one finding id")
		}
		all := want(first)
		for k, v := range want(second) {
			all[k] = v
		}
		settled(t, 4, all)
	})
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
