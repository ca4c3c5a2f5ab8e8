package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	_ "google.golang.org/grpc/encoding/gzip" // the outbox compresses batches

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	"github.com/sanzi/sanzi/node/town"
)

// installIssuedKey makes the key of the node's certificate its signing key
// for org (the district checks every entry against the certificate's key).
// A node that already signs with another key is refused: its chain would not
// verify against its certificate.
func installIssuedKey(cfg Config) (*pki.Issued, error) {
	iss, err := pki.LoadIssued(cfg.TLSDir, cfg.CertName)
	if err != nil {
		return nil, fmt.Errorf("--tls-dir: %w", err)
	}
	org, role, err := pki.Identity(iss.Cert)
	if err != nil {
		return nil, err
	}
	want := pki.RoleVillage
	if cfg.SyncAddr != "" {
		want = pki.RoleTown
	}
	if role != want || org != cfg.Orgs[0] {
		return nil, fmt.Errorf("certificate %s names %s %s, not %s %s", cfg.CertName, role, org, want, cfg.Orgs[0])
	}
	dir := filepath.Join(cfg.DataDir, "keys")
	k, err := keys.ReadPrivate(filepath.Join(dir, org+".key"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := keys.Write(dir, org, iss.Key); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case !k.Equal(iss.Key):
		return nil, fmt.Errorf("the node signs %s with a key other than its certificate's (%s): run sanzi village rekey to change to the new certificate's key (stop the node first), or issue the certificate for this node's key", org, cfg.CertName)
	}
	return iss, nil
}

// startOutbox pushes the node's chain to its parent until ctx ends.
func (n *Node) startOutbox(ctx context.Context, iss *pki.Issued, bg *sync.WaitGroup) error {
	pool, err := pki.LoadPool(n.cfg.TLSDir)
	if err != nil {
		return err
	}
	dial, err := parentDialer(n.cfg, iss)
	if err != nil {
		return err
	}
	oc := relay.Config{Ledger: n.ledger, Origin: n.cfg.Orgs[0], Dial: dial, AckTimeout: n.cfg.SyncAckTimeout, Max: n.cfg.SyncRetryMax,
		Attachments: &relay.AttachmentSource{Named: entries.Attachments, Get: n.books.Attachments().Get},
		Logger:      n.log.With("subsystem", "sync", "parent", n.cfg.Parent)}
	if n.level == idcode.LevelTown { // a town forwards its villages' chains verbatim, with their certificates
		prefix := n.cfg.Orgs[0][:9]
		oc.Origins = func() []string {
			var out []string
			for _, o := range n.ledger.Origins() {
				if strings.HasPrefix(o, prefix) { // not the district's chain it pulled
					out = append(out, o)
				}
			}
			return out
		}
		oc.Certificate = n.inbox.Certificate
		oc.Wake = n.outboxKick
	}
	o, err := relay.New(oc)
	if err != nil {
		return err
	}
	n.outbox = o
	n.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_sync_lag_entries", Help: "Entries of the node's chain its parent has not acknowledged."},
			func() float64 { return float64(o.Status().Lag) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_sync_acked_seq", Help: "Highest seq of the node's chain its parent acknowledged."},
			func() float64 { return float64(o.Status().Acked) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_sync_refused_chains", Help: "Chains the parent refused for good (chain broken, refused by parent) that the outbox no longer pushes until they are repaired."},
			func() float64 { return float64(len(o.Status().Refused)) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_sync_sessions_total", Help: "Connections the outbox opened to its parent by this run (each try)."},
			func() float64 { return float64(o.Status().Sessions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_sync_attachment_bytes_total", Help: "Bytes of attachment pieces sent to the parent by this run."},
			func() float64 { return float64(o.Status().AttachmentBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sanzi_town_decisions_refused_total",
			Help: "Decisions of the village's town it could not apply since it started (the step had moved on, the alert was reviewed here meanwhile); each is logged."},
			func() float64 { return float64(n.decisionsRefused()) }),
	)
	bg.Go(func() { o.Run(ctx) })
	// What flows down: the district's own chain, and for a village its
	// town's (the town's decisions on its steps and alerts), pulled from
	// the parent, which holds both whether it is the town or the district.
	type chain struct {
		origin string
		role   pki.Role
	}
	down := []chain{{n.cfg.Orgs[0][:6] + "000000", pki.RoleDistrict}}
	if n.level == idcode.LevelVillage {
		down = append(down, chain{n.cfg.Orgs[0][:9] + "000", pki.RoleTown})
	}
	for _, d := range down {
		puller, err := relay.NewPuller(relay.PullConfig{Ledger: n.ledger, Origin: d.origin, Role: d.role, Pool: pool,
			DataDir: n.cfg.DataDir, Dial: dial, Applied: n.sup.Follow, Logger: n.log.With("subsystem", "pull", "parent", n.cfg.Parent, "origin", d.origin)})
		if err != nil {
			return err
		}
		n.pullers = append(n.pullers, puller)
		bg.Go(func() { puller.Run(ctx); puller.Close() })
	}
	if n.desk != nil {
		get, closeConn, err := parentPhotos(n.cfg, iss)
		if err != nil {
			return err
		}
		bg.Go(func() { defer closeConn(); n.fetchPhotos(ctx, get) })
	}
	return nil
}

// PushNow has the node's parent acknowledge its chain up to its head now
// (relay.Outbox.PushNow). The node pushes by itself; this is for a driver
// in the node's own process whose next step needs the parent to hold what
// was just recorded: the demo's seeding, before its town decides a step.
// It is no API: nothing outside the process can call it.
func (n *Node) PushNow(ctx context.Context) error {
	if !n.ready.Load() || n.outbox == nil { // ready is set after the outbox starts
		return errors.New("push now: the node has no parent, or is not serving yet")
	}
	return n.outbox.PushNow(ctx)
}

// PullNow brings down now what the parent holds of the chains that flow
// down (the district's; a village's town's), applied before it returns
// (relay.Puller.PullNow), and returns how many entries came. The node
// pulls by itself every couple of seconds; this is for the demo's seeding,
// right after its town decided, so the village applies the decision at the
// moment of the demo's clock it stands at. It is no API either.
func (n *Node) PullNow(ctx context.Context) (int, error) {
	if !n.ready.Load() || n.outbox == nil {
		return 0, errors.New("pull now: the node has no parent, or is not serving yet")
	}
	total := 0
	for _, p := range n.pullers {
		k, err := p.PullNow(ctx)
		total += k
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// syncStatus serves GET /v1/sync/status.
// It needs a sign-in with the read permission.
func (n *Node) syncStatus(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.person(w, r, authz.PermRead); !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if n.outbox == nil && n.inbox == nil {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"error": "this node has no parent (start it with --parent)"})
		return
	}
	pulls := []relay.PullStatus{}
	for _, p := range n.pullers {
		pulls = append(pulls, p.Status())
	}
	st := SyncStatus{Pulls: pulls}
	if n.outbox != nil {
		st.Status = n.outbox.Status()
	} else {
		st.Origin, st.Head = n.cfg.Orgs[0], n.ledger.Head(n.cfg.Orgs[0]).Seq // a town with no parent yet: its villages still push
	}
	if n.inbox != nil {
		st.Villages = n.inbox.Villages()
		st.KeyRefusals = n.inbox.Refused.List()
		if r, ok := n.inbox.Revoked.(*relay.ChainRevocations); ok {
			st.Revocations = r.List()
		}
	}
	json.NewEncoder(w).Encode(st)
}

// SyncStatus is GET /v1/sync/status: the node's chain going up, and the
// chains coming down (the district's, and a village's town's). A town adds
// its villages' pushes it refused for their keys, and the revocations it
// enforces.
type SyncStatus struct {
	relay.Status
	Pulls []relay.PullStatus `json:"pulls"`
	// At a town: each village's pushes as the town saw them.
	Villages    []town.VillageSync  `json:"villages,omitempty"`
	KeyRefusals []relay.Refusal     `json:"keyRefusals,omitempty"`
	Revocations []ledger.Revocation `json:"revocations,omitempty"`
}

// syncRefused words the chains the parent refused for good: those of the
// node's own orgs (the node cannot sync: not ready) and those it forwards
// for its villages (a warning: the town itself works).
func (n *Node) syncRefused() (own, forwarded []string) {
	if n.outbox == nil {
		return nil, nil
	}
	for _, r := range n.outbox.Status().Refused {
		line := r.Origin + ": " + r.Summary
		if slices.Contains(n.cfg.Orgs, r.Origin) {
			own = append(own, line)
		} else {
			forwarded = append(forwarded, line)
		}
	}
	return own, forwarded
}
