package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// districtChain writes to the district's own chain (what flows down to
// towns and villages), signed with the key of a district certificate.
type districtChain struct {
	origin   string
	key      *pki.Issued
	district sanziv1.DistrictServiceClient
	sync     sanziv1.SyncServiceClient
	close    func()
}

func (t *tlsFlags) districtChain(addr string) (*districtChain, error) {
	pool, cert, err := t.load()
	if err != nil {
		return nil, err
	}
	iss, err := pki.LoadIssued(t.dir, t.name)
	if err != nil {
		return nil, err
	}
	org, role, err := pki.Identity(iss.Cert)
	if err != nil {
		return nil, err
	}
	if role != pki.RoleDistrict {
		return nil, fmt.Errorf("certificate %s is a %s's: the district's chain is signed with a district certificate", t.name, role)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(pool, cert, pki.AllowRoles(pki.RoleDistrict)))))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return &districtChain{origin: org, key: iss, district: sanziv1.NewDistrictServiceClient(conn), sync: sanziv1.NewSyncServiceClient(conn),
		close: func() { conn.Close() }}, nil
}

// ruleSets reads the rule-set entries of the district's chain.
func (c *districtChain) ruleSets(ctx context.Context) ([]*sanziv1.RuleSetVersion, ledger.Head, error) {
	var out []*sanziv1.RuleSetVersion
	var head ledger.Head
	for from := uint64(1); ; {
		resp, err := c.district.ListDistrictEntries(ctx, &sanziv1.ListDistrictEntriesRequest{Origin: c.origin, FromSeq: from, Limit: 1000,
			Consistency: sanziv1.Consistency_CONSISTENCY_LINEARIZABLE})
		if err != nil {
			return nil, head, err
		}
		for _, e := range resp.GetEntries() {
			raw, err := proto.Marshal(e)
			if err != nil {
				return nil, head, err
			}
			s, err := ledger.Decode(raw)
			if err != nil {
				return nil, head, err
			}
			head = ledger.Head{Seq: s.Seq, Hash: s.Hash}
			if m, err := books.Decode(s.Type, s.Payload); err == nil {
				if v, ok := m.(*sanziv1.RuleSetVersion); ok {
					out = append(out, v)
				}
			}
		}
		if len(resp.GetEntries()) < 1000 {
			return out, head, nil
		}
		from += 1000
	}
}

// append seals v after head and pushes it; it returns the entry's id.
func (c *districtChain) append(ctx context.Context, head ledger.Head, author string, v *sanziv1.RuleSetVersion) (string, error) {
	payload, err := proto.Marshal(v)
	if err != nil {
		return "", err
	}
	s, err := ledger.Seal(c.key.Key, head, ledger.Record{Origin: c.origin, Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_RULE_SET, Payload: payload}, time.Now())
	if err != nil {
		return "", err
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

func newDistrictRulesCmd(g *globals) *cobra.Command {
	var t tlsFlags
	var server string
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Publish rule sets from the district: they flow down to every town and village",
		Long: `A rule set is drafted by one person and published by another (four eyes),
both as entries of the district's own chain, signed with the key of a
district certificate (--cert, default admin). Towns pull the chain from the
district and villages from their town; each node checks the signer's
certificate, the links and the signature, and switches to a published set
from its next entry on.`,
	}
	submit := &cobra.Command{
		Use:   "submit --rules FILE",
		Short: "Record a draft rule set in the district's chain",
		RunE: func(cmd *cobra.Command, args []string) error {
			file, _ := cmd.Flags().GetString("rules")
			raw, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("--rules: %w", err)
			}
			e, err := books.ParseRuleSet(raw)
			if err != nil {
				return err
			}
			c, err := t.districtChain(server)
			if err != nil {
				return err
			}
			defer c.close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			sets, head, err := c.ruleSets(ctx)
			if err != nil {
				return explain(server, err)
			}
			for _, v := range sets {
				if v.GetVersion() == e.Version() {
					return &exitError{code: 1, msg: fmt.Sprintf("sanzi: rule set %s already exists in the district's chain: give the draft a new version", e.Version())}
				}
			}
			sum := sha256.Sum256(raw)
			id, err := c.append(ctx, head, g.author, &sanziv1.RuleSetVersion{Org: c.origin, Version: e.Version(), State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
				RulesJson: string(raw), DraftedBy: g.author, Sha256: hex.EncodeToString(sum[:])})
			if err != nil {
				return explain(server, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "draft %s recorded in the district's chain (entry %s); publish it as someone other than %s\n", e.Version(), id, g.author)
			return nil
		},
	}
	submit.Flags().String("rules", "", "draft rule set file (JSON)")
	publish := &cobra.Command{
		Use:   "publish VERSION",
		Short: "Publish a draft from the district's chain (not by its own author)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.districtChain(server)
			if err != nil {
				return err
			}
			defer c.close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			sets, head, err := c.ruleSets(ctx)
			if err != nil {
				return explain(server, err)
			}
			var draft *sanziv1.RuleSetVersion
			for _, v := range sets {
				if v.GetVersion() != args[0] {
					continue
				}
				if v.GetState() == sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED {
					return &exitError{code: 1, msg: "sanzi: rule set " + args[0] + " is already published"}
				}
				draft = v
			}
			switch {
			case draft == nil:
				return &exitError{code: 1, msg: "sanzi: no draft " + args[0] + " in the district's chain"}
			case draft.GetDraftedBy() == g.author:
				return &exitError{code: 1, msg: fmt.Sprintf("sanzi: %s drafted rule set %s; publishing needs a second person (four eyes)", g.author, args[0])}
			}
			id, err := c.append(ctx, head, g.author, &sanziv1.RuleSetVersion{Org: c.origin, Version: args[0], State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
				DraftedBy: draft.GetDraftedBy(), Sha256: draft.GetSha256()})
			if err != nil {
				return explain(server, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rule set %s published by the district (entry %s); towns and villages apply it as they pull\n", args[0], id)
			return nil
		},
	}
	for _, c := range []*cobra.Command{submit, publish} {
		t.add(c, "admin")
		c.Flags().StringVar(&server, "server", "127.0.0.1:7502", "API address of any district member")
	}
	cmd.AddCommand(submit, publish)
	return cmd
}
