package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/retry"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// PullConfig sets up a Puller.
type PullConfig struct {
	Ledger *ledger.Ledger
	// Origin is the chain that flows down: the district's own (6 digits +
	// 000000: rule sets, catalog versions, directives) or the node's town's
	// (9 digits + 000: decisions on its villages' steps and alerts).
	Origin string
	// Role is what the chain's signer must be: district or town.
	Role pki.Role
	// Pool is the district CA: the chain's signer must hold one of its
	// certificates for exactly Origin and Role.
	Pool *x509.CertPool
	// DataDir holds keys/ (the signer's public key, read by the ledger at
	// open) and peers/ (its certificate, served on to this node's children).
	DataDir string
	Dial    Dialer
	// Poll is how often to ask for more; default 2 s.
	Poll time.Duration
	// Applied is told after new entries are stored, so the node applies
	// them (a published rule set) before its next entry; may be nil.
	Applied func(ctx context.Context) error
	Logger  *slog.Logger
}

// Puller brings a chain that flows down (the district's, or the node's
// town's) from the parent and stores it verbatim, in order, after checking
// the signer's certificate, the links and the last signature; the node's
// books apply it.
type Puller struct {
	cfg PullConfig
	mu  sync.Mutex
	st  PullStatus
	// pulling serialises the pulls of Run and PullNow, so an entry is
	// stored and applied by one of them, and PullNow returns only after
	// any pull under way has applied what it brought.
	pulling sync.Mutex
	// now is PullNow's connection, made at its first call.
	now      sanziv1.SyncServiceClient
	closeNow func()
	// key is the key the chain is signed with at the head held here
	// (the pinned first key, or the one its last rotation named), read
	// from the chain at the first pull and followed through the
	// rotations pulled since; nil until then. Under pulling.
	key ed25519.PublicKey
	// revoked are the district's revocations as pulled here: a rotation
	// signed by a revoked key, or entries signed by one after its
	// revocation point, are refused.
	revoked *ChainRevocations
}

// PullStatus is how far a chain that flows down has come, for `sanzi sync
// status`.
type PullStatus struct {
	Origin    string    `json:"origin"`
	Head      uint64    `json:"head"` // held here
	LastPull  time.Time `json:"lastPull,omitzero"`
	LastError string    `json:"lastError,omitempty"`
	Failures  int       `json:"failures"` // consecutive failed pulls
}

// Status returns a snapshot.
func (p *Puller) Status() PullStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.st
	s.Origin, s.Head = p.cfg.Origin, p.cfg.Ledger.Head(p.cfg.Origin).Seq
	return s
}

// NewPuller checks cfg.
func NewPuller(cfg PullConfig) (*Puller, error) {
	if cfg.Ledger == nil || cfg.Dial == nil || cfg.Pool == nil || len(cfg.Origin) != 12 || (cfg.Role != pki.RoleDistrict && cfg.Role != pki.RoleTown) {
		return nil, errors.New("sync puller: Ledger, Dial, Pool, a 12-digit Origin and a district or town Role are required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Puller{cfg: cfg, revoked: NewChainRevocations(cfg.Ledger, cfg.Origin[:6]+"000000")}, nil
}

// Run pulls until ctx ends.
func (p *Puller) Run(ctx context.Context) error {
	failures := 0
	// One connection serves poll after poll; it is made again only after a
	// failed pull (a poll every 2 s would otherwise cost a TLS handshake).
	var client sanziv1.SyncServiceClient
	closeConn := func() {}
	defer func() { closeConn() }()
	for {
		var n int
		var err error
		if client == nil {
			var c func()
			if client, c, err = p.cfg.Dial(ctx); err == nil {
				closeConn = c
			}
		}
		if err == nil {
			p.pulling.Lock()
			n, err = p.once(ctx, client)
			p.pulling.Unlock()
		}
		if err != nil {
			closeConn()
			client, closeConn = nil, func() {}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.cfg.Poll
		p.mu.Lock()
		if err != nil {
			p.st.LastError, p.st.Failures = err.Error(), failures+1
		} else {
			p.st.LastPull, p.st.LastError, p.st.Failures = time.Now(), "", 0
		}
		p.mu.Unlock()
		if err != nil {
			failures++
			wait = retry.Backoff(failures, 500*time.Millisecond, 30*time.Second, nil)
			p.cfg.Logger.Warn("pull from parent failed; retrying", "err", err, "in", wait.Round(time.Millisecond))
		} else {
			failures = 0
			if n > 0 {
				p.cfg.Logger.Info("pulled a chain from the parent", "origin", p.cfg.Origin, "entries", n, "head", p.cfg.Ledger.Head(p.cfg.Origin).Seq)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// PullNow pulls the chain now, until the parent has no more, and returns
// how many entries it stored (applied, through Applied, before it
// returns). Run pulls by itself every Poll; PullNow is for a caller whose
// next step needs what the parent just recorded (the demo's seeding, after
// its town decided a step: the village applies the decision at the
// moment of its demo clock the seeding stands at).
func (p *Puller) PullNow(ctx context.Context) (int, error) {
	p.pulling.Lock()
	defer p.pulling.Unlock()
	if p.now == nil {
		client, closeConn, err := p.cfg.Dial(ctx)
		if err != nil {
			return 0, fmt.Errorf("pull %s now: %w", p.cfg.Origin, err)
		}
		p.now, p.closeNow = client, closeConn
	}
	total := 0
	for {
		n, err := p.once(ctx, p.now)
		total += n
		if err != nil {
			p.closeNow()
			p.now, p.closeNow = nil, nil // dialled again at the next call
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
}

// Close ends PullNow's connection, if it made one.
func (p *Puller) Close() {
	p.pulling.Lock()
	defer p.pulling.Unlock()
	if p.closeNow != nil {
		p.closeNow()
		p.now, p.closeNow = nil, nil
	}
}

func (p *Puller) once(ctx context.Context, client sanziv1.SyncServiceClient) (int, error) {
	head := p.cfg.Ledger.Head(p.cfg.Origin)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.SyncPull(cctx, &sanziv1.SyncPullRequest{Origin: p.cfg.Origin, FromSeq: head.Seq + 1}, grpc.UseCompressor("gzip"))
	if err != nil {
		return 0, fmt.Errorf("pull %s after %d: %w", p.cfg.Origin, head.Seq, err)
	}
	if len(resp.GetEntries()) == 0 {
		return 0, nil
	}
	pub, err := p.trusted(resp, head)
	if err != nil {
		return 0, err
	}
	opts := ledger.KeyOptions{CheckCert: pki.Rotation(p.cfg.Pool), Revoked: p.revoked}
	n, rotations, err := storeFollowing(ctx, p.cfg.Ledger, p.cfg.Origin, pub, head, resp.GetEntries(), opts)
	if err != nil {
		return 0, err
	}
	if len(rotations) > 0 {
		r := rotations[len(rotations)-1]
		p.key = r.PublicKey
		if err := p.keepRotated(r); err != nil {
			return n, err
		}
		p.cfg.Logger.Info("the chain's signer changed its key", "origin", p.cfg.Origin, "seq", r.Seq,
			"fingerprint", keys.Fingerprint(r.PublicKey), "by_old_key", r.ByOldKey)
	}
	if p.cfg.Applied != nil {
		if err := p.cfg.Applied(ctx); err != nil {
			return n, fmt.Errorf("apply chain %s: %w", p.cfg.Origin, err)
		}
	}
	return n, nil
}

// storeFollowing checks that raws (raw, in order) follow head in
// origin's chain, signed by pub (the key in force at head) and by the keys
// the key rotations among them name, with opts, and stores them verbatim.
// It returns the rotations stored.
func storeFollowing(ctx context.Context, l *ledger.Ledger, origin string, pub ed25519.PublicKey, head ledger.Head, raws [][]byte, opts ledger.KeyOptions) (int, []ledger.Rotation, error) {
	v := ledger.NewChainVerifier(origin, pub, head.Seq+1, head.Hash, false).WithKeys(opts).WithPrivate(ledger.PrivateOptions{Masker: entries.Masker{}})
	recs := make([]ledger.Record, 0, len(raws))
	for _, raw := range raws {
		e, err := ledger.Peek(raw)
		if err != nil {
			return 0, nil, err
		}
		if err := v.Check(e); err != nil {
			return 0, nil, fmt.Errorf("chain %s from the parent: %w", origin, err)
		}
		recs = append(recs, ledger.Record{Raw: raw})
	}
	if _, err := v.Finish(); err != nil {
		return 0, nil, fmt.Errorf("chain %s from the parent: %w", origin, err)
	}
	if _, err := l.Append(ctx, recs...); err != nil {
		return 0, nil, err
	}
	return len(recs), v.Rotations(), nil
}

// trusted returns the key the entries after the held head must be signed
// with (until a rotation among them names another). At the first pull,
// with nothing pinned, that is the key of the certificate of the chain's
// first key the parent sends (first_signer_certificate, served once the
// chain rotated; else signer_certificate), checked against the district CA
// and against seq 1, and pinned: the rotations in the chain lead from it
// to the current key. From then on the certificate
// the parent sends is not looked at: the chain itself says which key signs
// it, the pinned first key and then each key a rotation names, a rotation
// being signed by the key it replaces (or, when that one is revoked, by its
// new key under a certificate of the district CA). A parent cannot make
// this node trust a key by serving a certificate with it.
func (p *Puller) trusted(resp *sanziv1.SyncPullResponse, head ledger.Head) (ed25519.PublicKey, error) {
	if p.key != nil {
		return p.key, nil
	}
	keysDir := filepath.Join(p.cfg.DataDir, "keys")
	first, err := p.firstKey(keysDir)
	if errors.Is(err, os.ErrNotExist) {
		der := resp.GetFirstSignerCertificate()
		if len(der) == 0 {
			der = resp.GetSignerCertificate()
		}
		seq1, err := p.firstEntry(resp, head)
		if err != nil {
			return nil, err
		}
		if first, err = p.pin(keysDir, der, seq1); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	r, rotated, err := p.cfg.Ledger.LastRotation(p.cfg.Origin)
	if err != nil {
		return nil, err
	}
	p.key = first
	if rotated {
		// The files follow the chain; a node stopped between storing a
		// rotation and writing them catches up here.
		if err := p.keepRotated(r); err != nil {
			return nil, err
		}
		p.key = r.PublicKey
	}
	return p.key, nil
}

// firstKey reads the key the chain was pinned with at its first pull:
// <origin>.first.pub once the chain rotated, <origin>.pub before.
func (p *Puller) firstKey(keysDir string) (ed25519.PublicKey, error) {
	k, err := keys.ReadPublic(filepath.Join(keysDir, p.cfg.Origin+".first.pub"))
	if errors.Is(err, os.ErrNotExist) {
		return keys.ReadPublic(filepath.Join(keysDir, p.cfg.Origin+".pub"))
	}
	return k, err
}

// keepRotated writes the keys of a chain that rotated to r as sanzi village
// rekey does at the signer: <origin>.first.pub keeps the key the chain
// starts with (the ledger verifies from it), <origin>.pub becomes r's key
// (the current one, which checkpoints of the district's chain are checked
// with), and peers/<origin>.crt r's certificate, served on to this node's
// children. Written in that order, a crash in between leaves files that
// still verify the chain.
func (p *Puller) keepRotated(r ledger.Rotation) error {
	keysDir := filepath.Join(p.cfg.DataDir, "keys")
	first, err := p.firstKey(keysDir)
	if err != nil {
		return fmt.Errorf("the first key of chain %s: %w", p.cfg.Origin, err)
	}
	if err := keys.WriteFirst(keysDir, p.cfg.Origin, first); err != nil {
		return err
	}
	if cur, err := keys.ReadPublic(filepath.Join(keysDir, p.cfg.Origin+".pub")); err == nil && cur.Equal(r.PublicKey) {
		return nil
	}
	if err := keys.WritePublic(keysDir, p.cfg.Origin, r.PublicKey); err != nil {
		return err
	}
	if len(r.Certificate) > 0 {
		if err := os.MkdirAll(filepath.Join(p.cfg.DataDir, "peers"), 0o755); err != nil {
			return err
		}
		if err := keys.WriteFile(filepath.Join(p.cfg.DataDir, "peers", p.cfg.Origin+".crt"), r.Certificate, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// firstEntry is the chain's seq 1 with the entries after it up to the
// first signed one, whose signature vouches for seq 1 when it carries none
// of its own (one signature per append): the first pulled (a first pull
// asks from seq 1), or the ones held (a node given the chain without its
// key).
func (p *Puller) firstEntry(resp *sanziv1.SyncPullResponse, head ledger.Head) ([]ledger.Link, error) {
	var raws [][]byte
	if head.Seq == 0 {
		raws = resp.GetEntries()
	} else if err := p.cfg.Ledger.Range(p.cfg.Origin, 1, ledger.MaxUnsignedRun+1, func(s *ledger.Stored) bool {
		raws = append(raws, s.Raw)
		return !s.Signed()
	}); err != nil {
		return nil, fmt.Errorf("read seq 1 of chain %s: %w", p.cfg.Origin, err)
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("chain %s: seq 1 is not held here", p.cfg.Origin)
	}
	var run []ledger.Link
	for _, raw := range raws[:min(len(raws), ledger.MaxUnsignedRun+1)] {
		l, err := ledger.Peek(raw)
		if err != nil {
			return nil, err
		}
		if run = append(run, l); l.Signed() {
			break
		}
	}
	return run, nil
}

// pin checks the certificate of the key the chain starts with at the
// first pull, and pins that key: keys/<origin>.pub, and the certificate in
// peers/<origin>.crt (served on to this node's children) and
// peers/<origin>.first.crt (served on once the chain rotated). The
// certificate must chain to the district CA, name the origin and role, and
// its key must have signed seq1 (seq1 is seq 1 and the entries after it up
// to the signed one that vouches for it: ledger.Vouched): a parent cannot make this node start the
// chain from a key of its choosing, even one the CA certified for the
// origin.
func (p *Puller) pin(keysDir string, der []byte, seq1 []ledger.Link) (ed25519.PublicKey, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("the certificate of chain %s: %w", p.cfg.Origin, err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: p.cfg.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("the certificate of chain %s is not from this district's CA: %w", p.cfg.Origin, err)
	}
	org, role, err := pki.Identity(c)
	if err != nil {
		return nil, err
	}
	if role != p.cfg.Role || org != p.cfg.Origin {
		return nil, fmt.Errorf("the chain %s is signed by %s %s, not the %s %s", p.cfg.Origin, role, org, p.cfg.Role, p.cfg.Origin)
	}
	pub, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key of chain %s is not Ed25519", p.cfg.Origin)
	}
	if seq1[0].Seq != 1 || seq1[0].Origin != p.cfg.Origin || !ledger.Vouched(pub, seq1) {
		return nil, fmt.Errorf("the certificate served for chain %s (key %s) did not sign its seq 1: refused (after a key rotation the parent must serve the certificate of the chain's first key)", p.cfg.Origin, keys.Fingerprint(pub))
	}
	if err := keys.WritePublic(keysDir, p.cfg.Origin, pub); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(p.cfg.DataDir, "peers"), 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{p.cfg.Origin + ".first.crt", p.cfg.Origin + ".crt"} {
		if err := keys.WriteFile(filepath.Join(p.cfg.DataDir, "peers", name), c.Raw, 0o644); err != nil {
			return nil, err
		}
	}
	return pub, nil
}
