// Package districtchain writes the district's own chain: what flows down
// from the district to every town and village (rule-set drafts and their
// publication, catalog versions, directives) and the key revocations the
// district and every town enforce. It is named for that chain, the one
// chain no node of its own appends to: a village's or town's chain is
// written by its node (node/books), the district's by the people of the
// district through this package.
//
// It is a client of a district member, not part of one: it reads the chain
// through the DistrictService (linearizable, paged: Read), seals each entry
// with the key of a district certificate and pushes it through the
// SyncService (Append), so a member verifies it, proposes it through Raft
// and acks it like any child's push. The command line (sanzi district
// rules, catalog, directive, revoke) only parses flags, calls it and prints.
//
// What it writes it checks first, with the checks the nodes that apply a
// publication run again: four eyes on a rule set's publication and a
// directive's addressees and deadline (node/entries), a rule set that
// compiles (node/watch), a catalog's steps (node/catalog). A node does not
// trust the writer to have checked: an older binary, or an entry sealed by
// hand with a district key, reaches it the same way.
package districtchain

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Errors of the writer. Their text is what a person reads (the command
// line prints them), so it carries no package prefix. A member's refusal
// comes back as the gRPC status it sent, unwrapped, so the caller can
// explain it by its code.
var (
	// ErrNotDistrict: the certificate is not a district's; only a district
	// certificate's key signs the district's chain.
	ErrNotDistrict = errors.New("the district's chain is signed with a district certificate")
	// ErrExists: a rule-set draft of a version the chain already holds.
	ErrExists = errors.New("give the draft a new version")
	// ErrNoDraft: a publication of a version the chain holds no draft of.
	ErrNoDraft = errors.New("no draft")
	// ErrPublished: a publication of a version already published.
	ErrPublished = errors.New("already published")
	// ErrCatalogVersion: a catalog without a version of its own.
	ErrCatalogVersion = errors.New("give the catalog a version of its own (e.g. 2026-12)")
	// ErrOtherDistrict: a catalog of another district.
	ErrOtherDistrict = errors.New("the catalog is not the district's")
	// ErrInvalid: what was to be written does not pass its checks; the
	// error says which and why.
	ErrInvalid = errors.New("invalid request")
)

// pageSize is how many entries Read asks a member for at once: the
// member's own cap, so a full page means there may be more.
const pageSize = 1000

// Config says which member to write through and as whom.
type Config struct {
	// Addr is the API address of any district member.
	Addr string
	// Pool holds the district CA; Issued is the district certificate (and
	// its key) the entries are signed with and the connection made with.
	Pool   *x509.CertPool
	Issued *pki.Issued
	// Name is the certificate's name in its folder, for error messages.
	Name string
	// Timeout bounds each operation (reading the chain and writing to it);
	// default one minute.
	Timeout time.Duration
	// Now is the clock the entries' recorded_at is read from; default
	// time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	if c.Addr == "" || c.Pool == nil || c.Issued == nil {
		return errors.New("districtchain: an address, the CA pool and a district certificate are required")
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Chain is the district's chain as one writer sees it through one member.
type Chain struct {
	origin   string
	key      ed25519.PrivateKey
	district sanziv1.DistrictServiceClient
	sync     sanziv1.SyncServiceClient
	cfg      Config
	conn     *grpc.ClientConn
	local    Local // set by AtMember: the member's own state, no connection
}

// Local is the district's chain as a member holds it, for a Chain that
// writes for the people signed in at that member (AtMember): reads from
// the member's replicated state, appends sealed by the leader with the
// district chain's key, so no person holds that key.
type Local interface {
	// Range calls fn for origin's entries from seq from on, in order.
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
	// Head is origin's head in the member's state.
	Head(origin string) ledger.Head
	// AppendDistrict appends one entry by author after the chain's head at
	// the leader and returns it once applied.
	AppendDistrict(ctx context.Context, author string, t sanziv1.EntryType, payload []byte) (*ledger.Stored, error)
}

// AtMember is the district's chain of origin at a member (see Local). The
// member reads its state as fresh as it needs before calling (a
// linearizable barrier): the checks here (four eyes, a version new to the
// chain) read it.
func AtMember(origin string, l Local, timeout time.Duration) *Chain {
	cfg := Config{Timeout: timeout}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	cfg.Now = time.Now
	return &Chain{origin: origin, cfg: cfg, local: l}
}

// Dial connects to a member with mutual TLS as cfg.Issued, which must be a
// district certificate: its org is the chain's origin. The connection is
// made on first use.
func Dial(cfg Config) (*Chain, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	org, role, err := pki.Identity(cfg.Issued.Cert)
	if err != nil {
		return nil, err
	}
	if role != pki.RoleDistrict {
		return nil, fmt.Errorf("certificate %s is a %s's: %w", cfg.Name, role, ErrNotDistrict)
	}
	creds := credentials.NewTLS(pki.ClientConfig(cfg.Pool, cfg.Issued.TLSCertificate(), pki.AllowRoles(pki.RoleDistrict)))
	conn, err := grpc.NewClient(cfg.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
	}
	return newChain(cfg, org, conn), nil
}

func newChain(cfg Config, org string, conn *grpc.ClientConn) *Chain {
	return &Chain{origin: org, key: cfg.Issued.Key, district: sanziv1.NewDistrictServiceClient(conn), sync: sanziv1.NewSyncServiceClient(conn),
		cfg: cfg, conn: conn}
}

// Close closes the connection.
func (c *Chain) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Origin is the chain's origin: the district's org code (6 digits and six
// zeros).
func (c *Chain) Origin() string { return c.origin }

// Read calls fn with every entry of the chain in order, paging through the
// member (linearizable reads: what the leader holds), and returns the head
// it read up to, which the next entry must follow. An error of fn stops
// the read and is returned.
func (c *Chain) Read(ctx context.Context, fn func(*ledger.Stored) error) (ledger.Head, error) {
	var head ledger.Head
	if c.local != nil {
		var ferr error
		err := c.local.Range(c.origin, 1, 0, func(s *ledger.Stored) bool {
			head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
			ferr = fn(s)
			return ferr == nil
		})
		return head, errors.Join(err, ferr)
	}
	for from := uint64(1); ; from += pageSize {
		resp, err := c.district.ListDistrictEntries(ctx, &sanziv1.ListDistrictEntriesRequest{Origin: c.origin, FromSeq: from, Limit: pageSize,
			Consistency: sanziv1.Consistency_CONSISTENCY_LINEARIZABLE})
		if err != nil {
			return head, err
		}
		for _, e := range resp.GetEntries() {
			raw, err := proto.Marshal(e)
			if err != nil {
				return head, fmt.Errorf("read the district's chain: %w", err)
			}
			s, err := ledger.Decode(raw)
			if err != nil {
				return head, fmt.Errorf("read the district's chain after seq %d: %w", head.Seq, err)
			}
			head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
			if err := fn(s); err != nil {
				return head, err
			}
		}
		if len(resp.GetEntries()) < pageSize {
			return head, nil
		}
	}
}

// Head is the district chain's head as the leader holds it, which the
// next entry must follow.
func (c *Chain) Head(ctx context.Context) (ledger.Head, error) {
	ack, err := c.headOf(ctx, c.origin)
	if err != nil {
		return ledger.Head{}, err
	}
	h := ledger.Head{Seq: ack.GetSeq()}
	if h.Seq > 0 {
		b, err := hex.DecodeString(ack.GetHash())
		if err != nil || len(b) != ledger.HashSize {
			return ledger.Head{}, fmt.Errorf("the district's head hash %q is not a SHA-256", ack.GetHash())
		}
		copy(h.Hash[:], b)
	}
	return h, nil
}

// headOf is the leader's head of origin's chain.
func (c *Chain) headOf(ctx context.Context, origin string) (*sanziv1.OriginAck, error) {
	if c.local != nil {
		h := c.local.Head(origin)
		a := &sanziv1.OriginAck{Origin: origin, Seq: h.Seq}
		if h.Seq > 0 {
			a.Hash = hex.EncodeToString(h.Hash[:])
		}
		return a, nil
	}
	resp, err := c.district.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: origin, Consistency: sanziv1.Consistency_CONSISTENCY_LINEARIZABLE})
	return resp.GetHead(), err
}

// Append seals v, an entry of type t by author, after head with the
// district certificate's key and pushes it; it returns the entry's id. A
// head that is no longer the chain's (another writer appended since) is
// refused by the member as a fork.
func (c *Chain) Append(ctx context.Context, head ledger.Head, author string, t sanziv1.EntryType, v proto.Message) (string, error) {
	payload, err := proto.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode the %s entry: %w", t, err)
	}
	if c.local != nil {
		// The leader seals after the head it holds: head was what the
		// checks read, and a write between them and here is another
		// person's entry, which the nodes' own checks see as well.
		st, err := c.local.AppendDistrict(ctx, author, t, payload)
		if err != nil {
			return "", err
		}
		return st.ID(), nil
	}
	s, err := ledger.SealSplit(c.key, head, ledger.Record{Origin: c.origin, Author: author, Type: t, Payload: payload}, c.cfg.Now(), entries.Masker{})
	if err != nil {
		return "", fmt.Errorf("seal the %s entry: %w", t, err)
	}
	stream, err := c.sync.SyncPush(ctx)
	if err != nil {
		return "", err
	}
	if err := stream.Send(&sanziv1.SyncPushRequest{Entries: [][]byte{s.Raw}}); err != nil {
		return "", err
	}
	if _, err := stream.Recv(); err != nil {
		return "", err
	}
	stream.CloseSend()
	return s.ID(), nil
}

// appendAtHead appends v after the chain's head now: for entries that need
// nothing else of the chain.
func (c *Chain) appendAtHead(ctx context.Context, author string, t sanziv1.EntryType, v proto.Message) (string, error) {
	head, err := c.Head(ctx)
	if err != nil {
		return "", err
	}
	return c.Append(ctx, head, author, t, v)
}

// bound is ctx limited to one operation's time.
func (c *Chain) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.Timeout)
}
