package town

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // villages compress their batches
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Inbox is a town's side of SyncService: its villages push their chains;
// it checks each batch (the pusher's certificate names the chain's village,
// under this town; links; the last signature against the key of that
// certificate), stores the entries verbatim and durably, then acks. A
// village's key and certificate are pinned on first contact and forwarded
// upward, so the district can check every village entry itself.
type Inbox struct {
	sanziv1.UnimplementedSyncServiceServer
	l       *ledger.Ledger
	town    string
	keysDir string
	certDir string
	log     *slog.Logger

	// OnFork is told when a village sends a different entry at a seq the
	// town holds (the town records it as a TAMPER alert in its own chain,
	// which travels up); may be nil.
	OnFork func(ctx context.Context, village string, seq uint64, heldHash, sentHash string)
	// OnTamper is told when a village sends an entry that does not verify
	// (edited body, bad signature, broken link, wrong seq): the town
	// records it once as a TAMPER alert too (issue 18); may be nil.
	OnTamper Tamper
	// Stored is told after a batch is stored, with the entries stored
	// (for the supervision to follow without reading them back), so the
	// town's books look across its villages at once; may be nil.
	Stored func(ctx context.Context, stored []*ledger.Stored) error
	// Attachments keeps what villages send up; with Named (the attachments
	// an encoded entry names) a batch naming one not held whole is
	// refused. Both nil: attachments are not checked.
	Attachments relay.AttachmentSink
	Named       func(raw []byte) ([]string, error)
	// OwnCertificate (DER) signs the town's own chain: served with it to
	// villages pulling the town's decisions.
	OwnCertificate []byte
	// OwnFirstCertificate (DER) is the certificate of the key the town's
	// chain starts with, once the town re-keyed (nil before, or when the
	// town did not keep it): served along, so a village whose first pull
	// comes after the rotation can verify the chain from seq 1.
	OwnFirstCertificate []byte
	// Revoked lists the keys the district revoked (the district's chain
	// as the town pulled it); CheckCert checks the certificates of key
	// rotations against the district CA. Both may be nil (then nothing is
	// revoked, and only rotations signed by the old key are accepted).
	Revoked   ledger.Revocations
	CheckCert ledger.CertCheck
	// Now is the clock certificate expiry is checked against on receipt;
	// default time.Now.
	Now func() time.Time
	// Refused keeps the last push of each village refused for its key.
	Refused relay.Refusals

	// seen is what this run saw of each village's pushes (the town
	// reviewer's sync page: last push, refusals and forks).
	seenMu sync.Mutex
	seen   map[string]VillageSync

	mu    sync.Mutex
	pubs  map[string]ed25519.PublicKey
	certs map[string][]byte // DER
	locks map[string]*sync.Mutex
}

// NewInbox serves town's villages over l; dataDir holds keys/ (village
// public keys, read by the ledger at open) and peers/ (their certificates).
func NewInbox(l *ledger.Ledger, town, dataDir string, log *slog.Logger) (*Inbox, error) {
	in := &Inbox{l: l, town: town, keysDir: filepath.Join(dataDir, "keys"), certDir: filepath.Join(dataDir, "peers"), log: log,
		pubs: map[string]ed25519.PublicKey{}, certs: map[string][]byte{}, locks: map[string]*sync.Mutex{}}
	if err := os.MkdirAll(in.certDir, 0o755); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(in.certDir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".crt" || strings.HasSuffix(e.Name(), ".first.crt") {
			// keys.WriteFile's .tmp left by a town killed mid-write (the
			// certificate itself is written again at the village's next
			// push), the district chain's first certificate (served on by
			// SyncPull), or anything else that is not a pinned certificate.
			continue
		}
		der, err := os.ReadFile(filepath.Join(in.certDir, e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("peer certificate %s: %w", e.Name(), err)
		}
		org, role, err := pki.Identity(c)
		if err != nil {
			return nil, err
		}
		if role == pki.RoleDistrict {
			continue // the district chain's signer, served on by SyncPull
		}
		in.certs[org] = der
		in.pubs[org] = c.PublicKey.(ed25519.PublicKey)
	}
	return in, nil
}

// RepairPins gives every pinned village of a town's data folder the public
// key file its chain is verified from, when a town killed between pinning
// writes (before the order in pin was fixed) left a certificate without
// it. It runs before the ledger opens, so the chain verifies at this start.
// A village that rotated keys has its key file from before the rotation
// and is left alone.
func RepairPins(dataDir string, log *slog.Logger) error {
	certDir, keysDir := filepath.Join(dataDir, "peers"), filepath.Join(dataDir, "keys")
	ents, err := os.ReadDir(certDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pinned certificates: %w", err)
	}
	for _, e := range ents {
		// <origin>.first.crt is a pulled chain's first certificate
		// (relay.Puller.pin), kept beside its key files, not a pin.
		if filepath.Ext(e.Name()) != ".crt" || strings.HasSuffix(e.Name(), ".first.crt") {
			continue
		}
		org := strings.TrimSuffix(e.Name(), ".crt")
		if _, err := os.Stat(filepath.Join(keysDir, org+".pub")); err == nil || !errors.Is(err, os.ErrNotExist) {
			continue
		}
		der, err := os.ReadFile(filepath.Join(certDir, e.Name()))
		if err != nil {
			return err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("pinned certificate %s: %w", e.Name(), err)
		}
		pub, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("pinned certificate %s: the key is not Ed25519", e.Name())
		}
		if err := keys.WritePublic(keysDir, org, pub); err != nil {
			return err
		}
		log.Warn("pinned village had no key file (a town killed while pinning it); wrote it from its certificate", "village", org)
	}
	return nil
}

// Certificate is the pinned certificate (DER) of a village, for the outbox
// to forward; nil when none (the town's own chain).
func (in *Inbox) Certificate(origin string) []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.certs[origin]
}

// pin records the village's certificate and key on first contact. Later it
// returns the key the village's chain is signed with here (the pinned one,
// or the one its last key rotation named), which may differ from the
// certificate's only while the batch that rotates to it is on its way.
func (in *Inbox) pin(org string, cert *x509.Certificate) (ed25519.PublicKey, error) {
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("the certificate's key is not Ed25519")
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if known, ok := in.pubs[org]; ok {
		return known, nil
	}
	// The key the ledger verifies the chain from first, then the
	// certificate that marks the village as pinned: a town killed between
	// the two writes must not come back pinned without the key (its
	// ledger would then hold a chain it cannot verify, "no public key for
	// this origin", and refuse the village for good).
	if err := keys.WritePublic(in.keysDir, org, pub); err != nil {
		return nil, err
	}
	if err := keys.WriteFile(filepath.Join(in.certDir, org+".crt"), cert.Raw, 0o644); err != nil {
		return nil, err
	}
	in.pubs[org], in.certs[org] = pub, cert.Raw
	in.log.Info("village pinned", "village", org)
	return pub, nil
}

func (in *Inbox) lock(origin string) *sync.Mutex {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.locks[origin] == nil {
		in.locks[origin] = &sync.Mutex{}
	}
	return in.locks[origin]
}

// SyncPush implements SyncService for the town's villages.
func (in *Inbox) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	ctx := stream.Context()
	cert, org, err := in.ownVillage(ctx)
	if err != nil {
		return err
	}
	if _, err := in.pin(org, cert); err != nil {
		return status.Errorf(codes.PermissionDenied, "%v", err)
	}
	return relay.ServePush(stream, func(req *sanziv1.SyncPushRequest) (*sanziv1.SyncPushResponse, error) {
		resp, err := in.accept(ctx, org, cert, req.GetEntries())
		in.note(org, err)
		return resp, in.Refused.Note(org, err, in.now())
	})
}

// accept verifies one batch of org's chain and stores what is new; cert is
// the pusher's certificate, whose key must be the chain's once the batch is
// stored.
func (in *Inbox) accept(ctx context.Context, org string, cert *x509.Certificate, raws [][]byte) (*sanziv1.SyncPushResponse, error) {
	l := in.lock(org)
	l.Lock()
	defer l.Unlock()
	pub, err := in.pin(org, cert)
	if err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "%v", err)
	}
	head := in.l.Head(org)
	// An entry pushed without its private part (redacted) is refused, and
	// a split one whose two parts disagree.
	v := ledger.NewChainVerifier(org, pub, head.Seq+1, head.Hash, false).WithKeys(in.keyOptions(org, pub)).
		WithPrivate(ledger.PrivateOptions{Masker: entries.Masker{}})
	var recs []ledger.Record
	dups := 0
	for i, raw := range raws {
		link, err := ledger.Peek(raw)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "entry %d: %v", i, err)
		}
		if err := pki.May(org, pki.RoleVillage, pki.Push, link.Origin); err != nil {
			in.log.Warn("sync push refused", "peer", org, "origin", link.Origin)
			return nil, status.Errorf(codes.PermissionDenied, "%v", err)
		}
		if link.Seq <= head.Seq {
			held, err := in.l.Get(org, link.Seq)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "read %s-%d: %v", org, link.Seq, err)
			}
			if held.Hash != link.Hash {
				in.log.Error("FORK: a village sent a different entry at a seq the town holds", "village", org, "seq", link.Seq)
				if in.OnFork != nil {
					in.OnFork(ctx, org, link.Seq, hex.EncodeToString(held.Hash[:]), hex.EncodeToString(link.Hash[:]))
				}
				return nil, status.Errorf(codes.FailedPrecondition, "fork: %s-%d differs from the entry the town holds", org, link.Seq)
			}
			dups++
			continue
		}
		if err := v.Check(link); err != nil {
			return nil, in.refuseUnverified(ctx, org, raw, err, codes.FailedPrecondition)
		}
		recs = append(recs, ledger.Record{Raw: raw})
	}
	if _, err := v.Finish(); ledger.KeyRefused(err) {
		in.log.Warn("sync push refused: signing key revoked or expired", "village", org, "err", err)
		return nil, err
	} else if err != nil {
		return nil, in.refuseUnverified(ctx, org, recs[len(recs)-1].Raw, err, codes.PermissionDenied)
	}
	if now, _ := v.Key(); !now.Equal(cert.PublicKey.(ed25519.PublicKey)) {
		return nil, status.Errorf(codes.PermissionDenied, "village %s: this certificate's key differs from the one its chain is signed with here; a new key needs a key rotation entry (sanzi village rekey)", org)
	}
	fresh := make([][]byte, len(recs))
	for i, r := range recs {
		fresh[i] = r.Raw
	}
	if err := relay.CheckAttachments(ctx, in.Attachments, in.Named, fresh); err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		stored, err := in.l.Append(ctx, recs...)
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "store: %v", err)
		}
		if rs := v.Rotations(); len(rs) > 0 {
			if err := in.rotated(org, rs[len(rs)-1]); err != nil {
				return nil, status.Errorf(codes.Internal, "record %s's new key: %v", org, err)
			}
		}
		if in.Stored != nil {
			if err := in.Stored(ctx, stored); err != nil {
				in.log.Error("town supervision after storing a batch", "village", org, "err", err) // stored and acked all the same
			}
		}
	}
	h := in.l.Head(org)
	return &sanziv1.SyncPushResponse{Added: int64(len(recs)), Duplicates: int64(dups),
		Acks: []*sanziv1.SyncAck{{Origin: org, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash[:])}}}, nil
}

// SyncAttachments implements SyncService for the town's villages.
func (in *Inbox) SyncAttachments(ctx context.Context, r *sanziv1.SyncAttachmentsRequest) (*sanziv1.SyncAttachmentsResponse, error) {
	if _, _, err := in.ownVillage(ctx); err != nil {
		return nil, err
	}
	if in.Attachments == nil {
		return nil, status.Error(codes.Unimplemented, "this town keeps no attachments")
	}
	return relay.AttachmentStates(ctx, in.Attachments, r)
}

// SyncAttachmentUpload implements SyncService for the town's villages.
func (in *Inbox) SyncAttachmentUpload(stream grpc.ClientStreamingServer[sanziv1.SyncAttachmentUploadRequest, sanziv1.SyncAttachmentUploadResponse]) error {
	if _, _, err := in.ownVillage(stream.Context()); err != nil {
		return err
	}
	if in.Attachments == nil {
		return status.Error(codes.Unimplemented, "this town keeps no attachments")
	}
	return relay.ReceiveAttachment(stream, in.Attachments)
}

// ownVillage is the calling village, refused unless it is one of this
// town's.
func (in *Inbox) ownVillage(ctx context.Context) (*x509.Certificate, string, error) {
	cert, org, role, err := pki.PeerIdentity(ctx)
	if err != nil {
		return nil, "", status.Errorf(codes.Unauthenticated, "%v", err)
	}
	// Its villages are the chains other than its own it may carry up.
	if role != pki.RoleVillage || org == in.town || pki.May(in.town, pki.RoleTown, pki.Push, org) != nil {
		in.log.Warn("sync refused", "peer", org, "role", role)
		return nil, "", status.Errorf(codes.PermissionDenied, "town %s takes pushes only from its own villages (%s…), not %s %s", in.town, in.town[:9], role, org)
	}
	return cert, org, nil
}

// SyncHeads implements SyncService: the town's heads of the asked origins
// (a village asks for its own).
func (in *Inbox) SyncHeads(ctx context.Context, r *sanziv1.SyncHeadsRequest) (*sanziv1.SyncHeadsResponse, error) {
	if _, _, err := in.ownVillage(ctx); err != nil {
		return nil, err
	}
	origins := r.GetOrigins()
	if len(origins) == 0 {
		origins = in.l.Origins()
	}
	out := &sanziv1.SyncHeadsResponse{}
	for _, o := range slices.Sorted(slices.Values(origins)) {
		if h := in.l.Head(o); h.Seq > 0 {
			out.Heads = append(out.Heads, &sanziv1.SyncAck{Origin: o, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash[:])})
		}
	}
	return out, nil
}

// SyncPull implements SyncService for the town's villages: the district's
// chain as the town pulled it, or the town's own (its decisions on its
// villages' steps and alerts), with the signer's certificate.
func (in *Inbox) SyncPull(ctx context.Context, r *sanziv1.SyncPullRequest) (*sanziv1.SyncPullResponse, error) {
	_, village, err := in.ownVillage(ctx)
	if err != nil {
		return nil, err
	}
	origin := r.GetOrigin()
	own := origin == in.town
	// A village reads back its own chain as the town holds it, verified:
	// what `sanzi repair --from-parent` restores from (issue 18). It
	// checks the entries with its own key, so no certificate goes along.
	self := origin == village
	// A village pulls what it may: its own, its town's, its district's.
	if pki.May(village, pki.RoleVillage, pki.Pull, origin) != nil {
		return nil, status.Errorf(codes.InvalidArgument, "origin %q: only the district's own chain and the town's (%s) are pulled", origin, in.town)
	}
	limit := int(r.GetLimit())
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	out := &sanziv1.SyncPullResponse{}
	// A page ends on the signed last entry of an append, past limit if
	// need be: the puller refuses one cut inside an append.
	err = in.l.Range(origin, max(r.GetFromSeq(), 1), 0, ledger.WholeAppends(limit, func(s *ledger.Stored) bool {
		out.Entries = append(out.Entries, s.Raw)
		return true
	}))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read %s: %v", origin, err)
	}
	if self {
		return out, nil
	}
	if len(out.Entries) > 0 && own {
		if in.OwnCertificate == nil {
			return nil, status.Error(codes.Unavailable, "the town's certificate is not set")
		}
		out.SignerCertificate, out.FirstSignerCertificate = in.OwnCertificate, in.OwnFirstCertificate
	} else if len(out.Entries) > 0 {
		der, err := os.ReadFile(filepath.Join(in.certDir, origin+".crt"))
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "the district chain's certificate is not here yet: %v", err)
		}
		out.SignerCertificate = der
		// The certificate of the district chain's first key, as the town's
		// puller pinned it (absent on a town that pinned before it was
		// kept; the village then pins signer_certificate).
		if der, err := os.ReadFile(filepath.Join(in.certDir, origin+".first.crt")); err == nil {
			out.FirstSignerCertificate = der
		}
	}
	return out, nil
}

func (in *Inbox) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// keyOptions is what the town checks of a village's keys beyond its chain:
// revocations, rotation certificates, and the expiry of the certificate of
// pub against the town's clock at receipt (see ledger.KeyOptions.Now).
func (in *Inbox) keyOptions(org string, pub ed25519.PublicKey) ledger.KeyOptions {
	o := ledger.KeyOptions{Revoked: in.Revoked, CheckCert: in.CheckCert, Now: in.now()}
	in.mu.Lock()
	der := in.certs[org]
	in.mu.Unlock()
	if c, err := x509.ParseCertificate(der); err == nil && pub.Equal(c.PublicKey) {
		o.NotAfter = c.NotAfter
	}
	return o
}

// rotated makes r's key and certificate the village's from now on: in
// memory, and in peers/ so that a restarted town starts from them (keys/
// keeps the key the chain starts with, which the ledger verifies from).
func (in *Inbox) rotated(org string, r ledger.Rotation) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(r.Certificate) > 0 {
		if err := keys.WriteFile(filepath.Join(in.certDir, org+".crt"), r.Certificate, 0o644); err != nil {
			return err
		}
		in.certs[org] = r.Certificate
	}
	in.pubs[org] = r.PublicKey
	in.log.Info("village changed its signing key", "village", org, "fingerprint", keys.Fingerprint(r.PublicKey), "seq", r.Seq, "by_old_key", r.ByOldKey)
	return nil
}

// Tamper is told of a village's entry that failed verification; the town
// records it once as a TAMPER alert in its own chain.
type Tamper func(ctx context.Context, village string, ve *ledger.VerifyError, raw []byte)

// refuseUnverified answers an entry of org that failed verification: a
// finding for OnTamper when it is evidence, and a status that is
// permanent-marked either way the chain will not verify again as pushed.
func (in *Inbox) refuseUnverified(ctx context.Context, org string, raw []byte, err error, code codes.Code) error {
	ve, _, ok := relay.Tampered(err)
	if !ok {
		return status.Errorf(code, "%v", err)
	}
	in.log.Error("TAMPER: a village sent an entry that does not verify", "village", org, "seq", ve.Seq, "failure", ve.Failure, "problem", ve.Problem)
	if in.OnTamper != nil {
		in.OnTamper(ctx, org, ve, raw)
	}
	return relay.ChainBroken(ve, code, err.Error())
}

// VillageSync is what the town saw of one village's pushes since it
// started, with the head it holds of the village's chain.
type VillageSync struct {
	Origin   string    `json:"origin"`
	Head     uint64    `json:"head"`              // the village's seq held here
	LastPush time.Time `json:"lastPush,omitzero"` // last batch accepted
	Pushes   uint64    `json:"pushes"`            // batches accepted by this run
	Refusals uint64    `json:"refusals"`          // batches refused by this run
	Forks    uint64    `json:"forks"`             // of which: a different entry at a seq held here
	// The last refusal's reason and time.
	LastRefusal   string    `json:"lastRefusal,omitempty"`
	LastRefusalAt time.Time `json:"lastRefusalAt,omitzero"`
}

// note keeps the outcome of one push of org.
func (in *Inbox) note(org string, err error) {
	in.seenMu.Lock()
	defer in.seenMu.Unlock()
	if in.seen == nil {
		in.seen = map[string]VillageSync{}
	}
	v := in.seen[org]
	v.Origin = org
	now := in.now()
	if err == nil {
		v.Pushes++
		v.LastPush = now
	} else {
		v.Refusals++
		if status.Code(err) == codes.FailedPrecondition && strings.Contains(err.Error(), "fork") {
			v.Forks++
		}
		v.LastRefusal, v.LastRefusalAt = err.Error(), now
	}
	in.seen[org] = v
}

// Villages lists every village whose chain the town holds or that pushed
// since it started, by org: what it saw of their pushes and the heads held.
func (in *Inbox) Villages() []VillageSync {
	in.mu.Lock()
	orgs := make([]string, 0, len(in.pubs))
	for org := range in.pubs {
		orgs = append(orgs, org)
	}
	in.mu.Unlock()
	in.seenMu.Lock()
	for org := range in.seen {
		if !slices.Contains(orgs, org) {
			orgs = append(orgs, org)
		}
	}
	out := make([]VillageSync, 0, len(orgs))
	for _, org := range orgs {
		v := in.seen[org]
		v.Origin = org
		out = append(out, v)
	}
	in.seenMu.Unlock()
	for i := range out {
		out[i].Head = in.l.Head(out[i].Origin).Seq
	}
	slices.SortFunc(out, func(a, b VillageSync) int { return strings.Compare(a.Origin, b.Origin) })
	return out
}
