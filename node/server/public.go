package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/checkpoint/cpstore"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A town serves the villagers' public site for its villages when asked to
// (--public, issue 15): the same site every district member serves
// (federation/public), read from the town's own verbatim copy of its
// villages' chains and the district's chain, with the district's signed
// checkpoints it pulls and checks (cpstore.Store). Complaints are not
// taken here: a complaint is recorded through the district's Raft and
// comes down the district's chain to the town, so the form stays on the
// district's site (public.Config.Complaints nil): given the district
// site's public address (--public-district-url; the town knows only the
// district's gRPC address), the town's village pages link the village's
// form and complaints there, and carry no complaint section without it.

// checkpointsFile is the town's copy of the district's checkpoints, in its
// data folder. Losing it costs a pull from the district, nothing more.
const checkpointsFile = "public-checkpoints.db"

// defaultCheckpointPoll is how often a town asks the district for new
// checkpoints: the district signs at most one a minute.
const defaultCheckpointPoll = 15 * time.Second

// openPublic opens the checkpoint store and the site's handler of a town
// started with --public.
func (n *Node) openPublic() error {
	if n.level != idcode.LevelTown || n.cfg.Parent == "" {
		return errors.New("--public is for a town node with --parent (the district it pulls the signed checkpoints from)")
	}
	if n.cfg.PublicDistrictURL != "" {
		if _, err := public.ParseDistrictSite(n.cfg.PublicDistrictURL); err != nil {
			return fmt.Errorf("--public-district-url: %w", err)
		}
	}
	st, err := cpstore.Open(filepath.Join(n.cfg.DataDir, checkpointsFile), ledgerHashAt(n.ledger), n.cfg.NoSync)
	if err != nil {
		return err
	}
	n.districtCPs = st
	n.cpRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanzi_town_checkpoints_refused_total",
		Help: "Checkpoints from the district the town refused to keep and serve, by why: signature (not the district chain's key), contradiction (with an earlier checkpoint or the chains the town holds), sequence, malformed. Each is logged."}, []string{"reason"})
	n.registry.MustRegister(n.cpRefused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sanzi_town_checkpoint_latest",
		Help: "Number of the newest district checkpoint the town keeps and serves on its public site."},
		func() float64 { return float64(st.Next() - 1) }))
	district := n.cfg.Orgs[0][:6] + "000000"
	state := &townState{l: n.ledger, Store: st, district: district, town: n.cfg.Orgs[0]}
	n.publicSite = &lazySite{build: func() (http.Handler, error) {
		pub, err := keys.ReadPublic(filepath.Join(n.cfg.DataDir, "keys", district+".pub"))
		if err != nil {
			return nil, err // the district's chain not pulled yet
		}
		cert, _ := os.ReadFile(filepath.Join(n.cfg.DataDir, "peers", district+".crt"))
		return public.New(public.Config{District: district, Villages: n.cfg.Orgs[0][:9], Names: n.cfg.OrgNames, PublicKey: pub, Certificate: cert,
			State: state, Proofs: n.cfg.PublicProofs, Limits: n.cfg.PublicLimits, DistrictSite: n.cfg.PublicDistrictURL, Now: n.cfg.Now,
			Logger: n.log.With("subsystem", "public")})
	}}
	return nil
}

// ledgerHashAt is the hash of origin's entry at seq in l; false when l does
// not hold it.
func ledgerHashAt(l *ledger.Ledger) checkpoint.HashAt {
	return func(origin string, seq uint64) ([ledger.HashSize]byte, bool, error) {
		st, err := l.Get(origin, seq)
		if errors.Is(err, ledger.ErrNotFound) {
			return [ledger.HashSize]byte{}, false, nil
		}
		if err != nil {
			return [ledger.HashSize]byte{}, false, err
		}
		return st.Hash, true, nil
	}
}

// townState is public.State over a town: its villages' chains and the
// district's (the catalog in force), never the town's own or another
// town's, with the checkpoints it kept.
type townState struct {
	l *ledger.Ledger
	*cpstore.Store
	district, town string
}

var _ public.State = (*townState)(nil)

// serves says whether origin is one of the chains the site reads.
func (s *townState) serves(origin string) bool {
	if origin == s.district {
		return true
	}
	lvl, err := idcode.OrgCode(origin)
	return err == nil && lvl == idcode.LevelVillage && strings.HasPrefix(origin, s.town[:9])
}

// Range implements public.State.
func (s *townState) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	if !s.serves(origin) {
		return nil
	}
	return s.l.Range(origin, from, limit, fn)
}

// Heads implements public.State.
func (s *townState) Heads() map[string]ledger.Head {
	out := map[string]ledger.Head{}
	for _, o := range s.l.Origins() {
		if s.serves(o) {
			out[o] = s.l.Head(o)
		}
	}
	return out
}

// lazySite is the site once the town knows the district chain's key, which
// it learns from the district chain's certificate at its first pull; until
// then every page is 503.
type lazySite struct {
	build func() (http.Handler, error)
	mu    sync.Mutex
	site  http.Handler
}

func (s *lazySite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.site == nil {
		site, err := s.build()
		if err != nil {
			s.mu.Unlock()
			w.Header().Set("Retry-After", "15")
			http.Error(w, "本镇尚未收到区里的公钥和签名检查点，请稍后再试 (the town has not received the district's key and signed checkpoints yet: "+err.Error()+")",
				http.StatusServiceUnavailable)
			return
		}
		s.site = site
	}
	site := s.site
	s.mu.Unlock()
	site.ServeHTTP(w, r)
}

// pullCheckpoints keeps the town's copy of the district's checkpoints up
// to date until ctx ends: every PublicPoll, at once again while the
// district has more. A checkpoint that does not verify or contradicts what
// the town holds is refused (logged, counted) and asked for again at the
// next poll; nothing after it is kept meanwhile.
func (n *Node) pullCheckpoints(ctx context.Context) {
	pool, err := pki.LoadPool(n.cfg.TLSDir)
	if err != nil {
		n.log.Error("pull checkpoints: read the district CA", "err", err)
		return
	}
	creds := credentials.NewTLS(pki.ClientConfig(pool, n.issued.TLSCertificate(), pki.AllowRoles(pki.RoleDistrict)))
	conn, err := grpc.NewClient(n.cfg.Parent, grpc.WithTransportCredentials(creds), limits.CallOptions())
	if err != nil {
		n.log.Error("pull checkpoints: connect to the district", "err", err)
		return
	}
	defer conn.Close()
	client := sanziv1.NewDistrictServiceClient(conn)
	district := n.cfg.Orgs[0][:6] + "000000"
	poll := n.cfg.PublicPoll
	if poll <= 0 {
		poll = defaultCheckpointPoll
	}
	n.poll(ctx, poll, "pull checkpoints from the district", func(ctx context.Context) (bool, error) {
		return n.pullCheckpointsOnce(ctx, client, district)
	})
}

// pullCheckpointsOnce asks for the checkpoints after the newest kept and
// keeps them; more says the district holds further ones.
//
// TODO(issue 15): the checkpoints are checked with keys/<district>.pub, the
// district chain's key as the puller holds it: pinned at its first pull,
// and replaced by the key a KEY_ROTATION of the chain names once the puller
// has verified and stored it (relay.Puller.trusted; the first key is kept
// in keys/<district>.first.pub). No command rotates the district chain's
// key today (rekey is a village's or a town's; a member whose --chain-cert
// key is not the registered one cannot write the chain:
// cluster.sealAndPush), but the district's state follows a KEY_ROTATION in
// its own chain (fsm districtKey) and would sign and keep checkpoints with
// the new key. A town would then refuse a checkpoint signed with the old
// key that it lists after the rotation (ErrSignature: logged, counted), and
// the site keeps the key it was built with (lazySite). To follow a
// rotation here too: check each checkpoint with the key of the district
// chain's head it signs, and rebuild the site when the key changes.
func (n *Node) pullCheckpointsOnce(ctx context.Context, client sanziv1.DistrictServiceClient, district string) (more bool, err error) {
	pub, err := keys.ReadPublic(filepath.Join(n.cfg.DataDir, "keys", district+".pub"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // the district's chain (and so its key) not pulled yet
	}
	if err != nil {
		return false, err
	}
	after := n.districtCPs.Next() - 1
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.ListCheckpoints(cctx, &sanziv1.ListCheckpointsRequest{After: after})
	if err != nil {
		return false, fmt.Errorf("list checkpoints after %d: %w", after, err)
	}
	for _, c := range resp.GetCheckpoints() {
		if _, err := n.districtCPs.Add(c.GetStatement(), c.GetSignature(), pub); err != nil {
			reason := refusalReason(err)
			if reason == "" {
				return false, err
			}
			n.cpRefused.WithLabelValues(reason).Inc()
			n.log.Error("refused a checkpoint from the district: it is not served", "reason", reason, "err", err,
				"key", checkpoint.Fingerprint(pub))
			return false, nil
		}
	}
	return len(resp.GetCheckpoints()) > 0 && n.districtCPs.Next()-1 < resp.GetLatest(), nil
}

// refusalReason is the metric label of a refused checkpoint, "" for an
// error that is not a refusal (a read or write that failed).
func refusalReason(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{{checkpoint.ErrSignature, "signature"}, {checkpoint.ErrContradiction, "contradiction"},
		{checkpoint.ErrSequence, "sequence"}, {checkpoint.ErrMalformed, "malformed"}} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ""
}
