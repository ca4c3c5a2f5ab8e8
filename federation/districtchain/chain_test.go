package districtchain

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const district = "350505000000"

// member is a district member as the writer sees it: the district's chain
// in memory, paged and pushed to. A push that does not follow the head is
// refused as the cluster refuses a fork.
type member struct {
	sanziv1.UnimplementedDistrictServiceServer
	sanziv1.UnimplementedSyncServiceServer
	mu     sync.Mutex
	chain  []*ledger.Stored
	heads  map[string]uint64 // other origins' heads
	pushes int
}

func (m *member) ListDistrictEntries(_ context.Context, r *sanziv1.ListDistrictEntriesRequest) (*sanziv1.ListDistrictEntriesResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &sanziv1.ListDistrictEntriesResponse{}
	for _, s := range m.chain {
		if s.Seq >= r.GetFromSeq() && len(out.Entries) < int(r.GetLimit()) {
			e := &sanziv1.Entry{}
			if err := proto.Unmarshal(s.Raw, e); err != nil {
				return nil, err
			}
			out.Entries = append(out.Entries, e)
		}
	}
	return out, nil
}

func (m *member) GetDistrictHead(_ context.Context, r *sanziv1.GetDistrictHeadRequest) (*sanziv1.GetDistrictHeadResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.GetOrigin() != district {
		return &sanziv1.GetDistrictHeadResponse{Head: &sanziv1.OriginAck{Origin: r.GetOrigin(), Seq: m.heads[r.GetOrigin()]}}, nil
	}
	h := m.head()
	ack := &sanziv1.OriginAck{Origin: district, Seq: h.Seq}
	if h.Seq > 0 {
		ack.Hash = hex.EncodeToString(h.Hash[:])
	}
	return &sanziv1.GetDistrictHeadResponse{Head: ack}, nil
}

func (m *member) head() ledger.Head {
	if len(m.chain) == 0 {
		return ledger.Head{}
	}
	last := m.chain[len(m.chain)-1]
	return ledger.Head{Seq: last.Seq, Hash: last.Hash}
}

func (m *member) SyncPush(stream grpc.BidiStreamingServer[sanziv1.SyncPushRequest, sanziv1.SyncPushResponse]) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, raw := range req.GetEntries() {
		s, err := ledger.Decode(raw)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if h := m.head(); s.Seq != h.Seq+1 || s.PrevHash != h.Hash {
			return status.Errorf(codes.FailedPrecondition, "seq %d does not follow the head %d", s.Seq, h.Seq)
		}
		m.chain = append(m.chain, s)
		m.pushes++
	}
	return stream.Send(&sanziv1.SyncPushResponse{Added: int64(len(req.GetEntries()))})
}

// entry decodes the chain's entry at seq.
func (m *member) entry(t *testing.T, seq uint64) (*ledger.Stored, proto.Message) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.chain[seq-1]
	msg, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return s, msg
}

// newTestChain is a writer on a member in memory, without TLS.
func newTestChain(t *testing.T) (*Chain, *member) {
	t.Helper()
	m := &member{heads: map[string]uint64{"350505100201": 41}}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	sanziv1.RegisterDistrictServiceServer(srv, m)
	sanziv1.RegisterSyncServiceServer(srv, m)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///member", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	cfg := Config{Addr: "member", Issued: &pki.Issued{Key: key}, Timeout: 10 * time.Second, Now: func() time.Time { return at }}
	c := newChain(cfg, district, conn)
	t.Cleanup(func() { c.Close() })
	return c, m
}

func ruleSetJSON(t *testing.T, version string) []byte {
	t.Helper()
	rs := rules.Default()
	rs.Version = version
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRuleSetDraftAndPublication(t *testing.T) {
	ctx := context.Background()
	c, m := newTestChain(t)
	raw := ruleSetJSON(t, "district-2026-11")
	steps := []struct {
		name    string
		do      func() error
		wantErr error // nil: written
	}{
		{"draft", func() error { _, _, err := c.SubmitRuleSet(ctx, "甲", raw); return err }, nil},
		{"the same version again", func() error { _, _, err := c.SubmitRuleSet(ctx, "乙", raw); return err }, ErrExists},
		{"not a rule set", func() error { _, _, err := c.SubmitRuleSet(ctx, "甲", []byte(`{"parms":1}`)); return err }, ErrInvalid},
		{"published by its drafter", func() error { _, err := c.PublishRuleSet(ctx, "甲", "district-2026-11"); return err }, entries.ErrFourEyes},
		{"a version never drafted", func() error { _, err := c.PublishRuleSet(ctx, "乙", "district-2099-01"); return err }, ErrNoDraft},
		{"published by a second person", func() error { _, err := c.PublishRuleSet(ctx, "乙", "district-2026-11"); return err }, nil},
		{"published twice", func() error { _, err := c.PublishRuleSet(ctx, "丙", "district-2026-11"); return err }, ErrPublished},
	}
	written := 0
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.do()
			if s.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				written++
			} else if !errors.Is(err, s.wantErr) {
				t.Fatalf("err = %v, want %v", err, s.wantErr)
			}
			if m.pushes != written {
				t.Fatalf("%d entries pushed, want %d: a refusal must write nothing", m.pushes, written)
			}
		})
	}
	st, msg := m.entry(t, 2)
	pub, ok := msg.(*sanziv1.RuleSetVersion)
	if !ok || st.Author != "乙" || pub.GetState() != sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED || pub.GetDraftedBy() != "甲" {
		t.Fatalf("publication entry: author %s, %v", st.Author, msg)
	}
	_, msg = m.entry(t, 1)
	if d := msg.(*sanziv1.RuleSetVersion); d.GetSha256() != pub.GetSha256() || d.GetRulesJson() != string(raw) {
		t.Fatalf("the publication names sha256 %s, the draft holds %s", pub.GetSha256(), d.GetSha256())
	}
}

// TestCatalogDraftAndPublication: a catalog is drafted by one rules
// officer and published by another; its drafter publishing it is refused
// naming both, and the publication names drafter, publisher and the
// draft's payload.
func TestCatalogDraftAndPublication(t *testing.T) {
	ctx := context.Background()
	c, m := newTestChain(t)
	steps := []struct {
		name    string
		do      func() error
		wantErr error // nil: written
		wantIn  []string
	}{
		{"draft", func() error { _, _, err := c.DraftCatalog(ctx, "甲", nil, "2026-12"); return err }, nil, nil},
		{"the same version again", func() error { _, _, err := c.DraftCatalog(ctx, "乙", nil, "2026-12"); return err }, ErrExists, nil},
		{"published by its drafter", func() error { _, _, err := c.PublishCatalog(ctx, "甲", "2026-12"); return err }, entries.ErrFourEyes,
			[]string{"drafted by 甲", "甲 may not publish"}},
		{"a version never drafted", func() error { _, _, err := c.PublishCatalog(ctx, "乙", "2099-01"); return err }, ErrNoDraft, nil},
		{"published by a second person", func() error { _, _, err := c.PublishCatalog(ctx, "乙", "2026-12"); return err }, nil, nil},
		{"published twice", func() error { _, _, err := c.PublishCatalog(ctx, "丙", "2026-12"); return err }, ErrPublished, nil},
	}
	written := 0
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.do()
			if s.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				written++
			} else if !errors.Is(err, s.wantErr) {
				t.Fatalf("err = %v, want %v", err, s.wantErr)
			}
			for _, w := range s.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err %q does not say %q", err, w)
				}
			}
			if m.pushes != written {
				t.Fatalf("%d entries pushed, want %d: a refusal must write nothing", m.pushes, written)
			}
		})
	}
	dst, msg := m.entry(t, 1)
	d := msg.(*sanziv1.Catalog)
	if dst.Author != "甲" || d.GetState() != sanziv1.CatalogState_CATALOG_STATE_DRAFT || d.GetDraftedBy() != "甲" || len(d.GetMatters()) == 0 {
		t.Fatalf("draft entry: author %s, state %s, drafted by %q, %d matters", dst.Author, d.GetState(), d.GetDraftedBy(), len(d.GetMatters()))
	}
	st, msg := m.entry(t, 2)
	pub := msg.(*sanziv1.Catalog)
	if st.Author != "乙" || pub.GetState() != sanziv1.CatalogState_CATALOG_STATE_PUBLISHED || pub.GetDraftedBy() != "甲" || pub.GetPublishedBy() != "乙" ||
		pub.GetSha256() != catalog.PayloadSum(dst.Payload) {
		t.Fatalf("publication entry: author %s, %v", st.Author, pub)
	}
}

func TestReadPagesTheWholeChain(t *testing.T) {
	ctx := context.Background()
	c, m := newTestChain(t)
	const n = pageSize + 3 // a full page, then a short one
	d := &sanziv1.Directive{Addressees: []string{"350505100"}, Title: "清理闲置资产", Task: "上报闲置资产清单", Deadline: "2026-12-31"}
	for range n {
		if _, err := c.IssueDirective(ctx, "乙", d); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	head, err := c.Read(ctx, func(s *ledger.Stored) error {
		seen++
		if s.Seq != uint64(seen) {
			t.Fatalf("entry %d read as seq %d", seen, s.Seq)
		}
		return nil
	})
	if err != nil || seen != n || head != m.head() {
		t.Fatalf("read %d entries to head %d (err %v); the chain holds %d to head %d", seen, head.Seq, err, n, m.head().Seq)
	}
}

func TestDirectiveCatalogRevocationChecks(t *testing.T) {
	ctx := context.Background()
	good := &sanziv1.Directive{Addressees: []string{"350505100"}, Title: "t", Task: "k", Deadline: "2026-12-31"}
	with := func(f func(d *sanziv1.Directive)) *sanziv1.Directive { d := proto.CloneOf(good); f(d); return d }
	rev := &sanziv1.KeyRevocation{Origin: "350505100201", Fingerprint: "0123456789abcdef", Reason: "key copied"}
	withRev := func(f func(r *sanziv1.KeyRevocation)) *sanziv1.KeyRevocation { r := proto.CloneOf(rev); f(r); return r }
	cases := []struct {
		name    string
		do      func(c *Chain) (string, error)
		wantErr error
	}{
		{"directive", func(c *Chain) (string, error) { return c.IssueDirective(ctx, "乙", good) }, nil},
		{"directive without a date", func(c *Chain) (string, error) {
			return c.IssueDirective(ctx, "乙", with(func(d *sanziv1.Directive) { d.Deadline = "12/31" }))
		}, ErrInvalid},
		{"directive to a name", func(c *Chain) (string, error) {
			return c.IssueDirective(ctx, "乙", with(func(d *sanziv1.Directive) { d.Addressees = []string{"town"} }))
		}, ErrInvalid},
		{"directive with no task", func(c *Chain) (string, error) {
			return c.IssueDirective(ctx, "乙", with(func(d *sanziv1.Directive) { d.Task = " " }))
		}, ErrInvalid},
		{"default catalog drafted under a version", func(c *Chain) (string, error) {
			_, id, err := c.DraftCatalog(ctx, "乙", nil, "2026-12")
			return id, err
		}, nil},
		{"catalog without a version", func(c *Chain) (string, error) { _, id, err := c.DraftCatalog(ctx, "乙", nil, ""); return id, err }, ErrCatalogVersion},
		{"another district's catalog", func(c *Chain) (string, error) {
			_, id, err := c.DraftCatalog(ctx, "乙", &sanziv1.Catalog{District: "350506", Version: "2026-12"}, "")
			return id, err
		}, ErrOtherDistrict},
		{"revocation at a given seq", func(c *Chain) (string, error) { _, id, err := c.RevokeKey(ctx, "乙", rev, false); return id, err }, nil},
		{"revocation without a reason", func(c *Chain) (string, error) {
			_, id, err := c.RevokeKey(ctx, "乙", withRev(func(r *sanziv1.KeyRevocation) { r.Reason = "" }), false)
			return id, err
		}, ErrInvalid},
		{"revocation of no fingerprint", func(c *Chain) (string, error) {
			_, id, err := c.RevokeKey(ctx, "乙", withRev(func(r *sanziv1.KeyRevocation) { r.Fingerprint = "not-a-key" }), false)
			return id, err
		}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, m := newTestChain(t)
			id, err := tc.do(c)
			switch {
			case tc.wantErr == nil && (err != nil || m.pushes != 1 || !strings.HasPrefix(id, district+"-")):
				t.Fatalf("id %q, err %v, %d pushed; want one entry written", id, err, m.pushes)
			case tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || m.pushes != 0):
				t.Fatalf("err %v, %d pushed; want %v and nothing written", err, m.pushes, tc.wantErr)
			}
		})
	}
}

func TestRevokeAtTheDistrictsHead(t *testing.T) {
	c, m := newTestChain(t)
	rev := &sanziv1.KeyRevocation{Origin: "350505100201", Fingerprint: "0123456789abcdef", Reason: "key copied", AfterSeq: 7}
	got, _, err := c.RevokeKey(context.Background(), "乙", rev, true)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := m.entry(t, 1)
	w := &sanziv1.KeyRevocation{}
	if err := proto.Unmarshal(st.Payload, w); err != nil || st.Type != sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION {
		t.Fatalf("entry 1 is %s: %v", st.Type, err)
	}
	if got.GetAfterSeq() != 41 || w.GetAfterSeq() != 41 || rev.GetAfterSeq() != 7 {
		t.Fatalf("revoked after seq %d (written %d), want the district's head of the village, 41; the caller's copy says %d", got.GetAfterSeq(), w.GetAfterSeq(), rev.GetAfterSeq())
	}
}

// TestDraftCatalogNamesTheField: a catalog draft refused for its version or
// district names that field (an *entries.FieldError in the error), so the
// console marks the input; the text stays the sentinel's.
func TestDraftCatalogNamesTheField(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestChain(t)
	if _, _, err := c.DraftCatalog(ctx, "乙", nil, "2026-12"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, version, field string
		cat                  *sanziv1.Catalog
		want                 error
	}{
		{"no version", "", "version", nil, ErrCatalogVersion},
		{"another district", "", "district", &sanziv1.Catalog{District: "350506", Version: "2026-13"}, ErrOtherDistrict},
		{"a version already drafted", "2026-12", "version", nil, ErrExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.DraftCatalog(ctx, "乙", tc.cat, tc.version)
			var fe *entries.FieldError
			if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Field != tc.field || fe.Reason != err.Error() {
				t.Fatalf("err %v (field %+v), want %v naming %s", err, fe, tc.want, tc.field)
			}
		})
	}
}
