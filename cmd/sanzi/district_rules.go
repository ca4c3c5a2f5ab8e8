package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/supervise"
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
			if m, err := entries.Decode(s.Type, s.Payload); err == nil {
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

// head is the district chain's head as the leader holds it, which the next
// entry must follow.
func (c *districtChain) head(ctx context.Context) (ledger.Head, error) {
	resp, err := c.district.GetDistrictHead(ctx, &sanziv1.GetDistrictHeadRequest{Origin: c.origin, Consistency: sanziv1.Consistency_CONSISTENCY_LINEARIZABLE})
	if err != nil {
		return ledger.Head{}, err
	}
	h := ledger.Head{Seq: resp.GetHead().GetSeq()}
	if h.Seq > 0 {
		b, err := hex.DecodeString(resp.GetHead().GetHash())
		if err != nil || len(b) != ledger.HashSize {
			return ledger.Head{}, fmt.Errorf("the district's head hash %q is not a SHA-256", resp.GetHead().GetHash())
		}
		copy(h.Hash[:], b)
	}
	return h, nil
}

// append seals v (of entry type t) after head and pushes it; it returns
// the entry's id.
func (c *districtChain) append(ctx context.Context, head ledger.Head, author string, t sanziv1.EntryType, v proto.Message) (string, error) {
	payload, err := proto.Marshal(v)
	if err != nil {
		return "", err
	}
	s, err := ledger.Seal(c.key.Key, head, ledger.Record{Origin: c.origin, Author: author, Type: t, Payload: payload}, time.Now())
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
			e, err := supervise.ParseRuleSet(raw)
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
			id, err := c.append(ctx, head, g.author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, &sanziv1.RuleSetVersion{Org: c.origin, Version: e.Version(), State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
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
			id, err := c.append(ctx, head, g.author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, &sanziv1.RuleSetVersion{Org: c.origin, Version: args[0], State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
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

func newDistrictCatalogCmd(g *globals) *cobra.Command {
	var (
		t                     tlsFlags
		server, file, version string
	)
	cmd := &cobra.Command{Use: "catalog", Short: "Publish catalog versions from the district: they flow down to every town and village"}
	publish := &cobra.Command{
		Use:   "publish --version V [--catalog FILE]",
		Short: "Record a catalog version (matters, steps, posts, time limits) in the district's chain",
		Long: `The catalog (职责权限库) is every supervised matter with its steps, the post
that handles each and each step's time limit. FILE is the catalog as JSON
(the sanzi.v1.Catalog message); without it the built-in default is
published under --version. It is checked first: a step routed to an unknown
post or without a time limit is refused here, before it reaches any node.
Towns and villages open new procedures under it from their next entry on;
procedures already open keep the version they were opened under.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := t.districtChain(server)
			if err != nil {
				return err
			}
			defer c.close()
			cat := catalog.Default(c.origin[:6])
			if file != "" {
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--catalog: %w", err)
				}
				cat = &sanziv1.Catalog{}
				if err := protojson.Unmarshal(raw, cat); err != nil {
					return fmt.Errorf("--catalog %s: %w", file, err)
				}
			}
			if version != "" {
				cat.Version = version
			}
			if cat.GetVersion() == "" || cat.GetVersion() == "default" {
				return &exitError{code: 2, msg: "sanzi: --version: give the catalog a version of its own (e.g. 2026-12)"}
			}
			if cat.GetDistrict() != c.origin[:6] {
				return &exitError{code: 2, msg: fmt.Sprintf("sanzi: the catalog is for district %q, not %s", cat.GetDistrict(), c.origin[:6])}
			}
			if err := catalog.Validate(cat); err != nil {
				return &exitError{code: 1, msg: "sanzi: the catalog does not validate:\n" + err.Error()}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			head, err := c.head(ctx)
			if err != nil {
				return explain(server, err)
			}
			id, err := c.append(ctx, head, g.author, sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION, cat)
			if err != nil {
				return explain(server, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "catalog %s (%d matters) published by the district (entry %s); towns and villages use it as they pull\n", cat.GetVersion(), len(cat.GetMatters()), id)
			return nil
		},
	}
	publish.Flags().StringVar(&file, "catalog", "", "catalog file (JSON); default: the built-in catalog")
	publish.Flags().StringVar(&version, "version", "", "version to publish it under (required unless FILE has one)")
	publish.Flags().StringVar(&server, "server", "127.0.0.1:7502", "API address of any district member")
	t.add(publish, "admin")
	cmd.AddCommand(publish)
	return cmd
}

func newDistrictDirectiveCmd(g *globals) *cobra.Command {
	var (
		t      tlsFlags
		server string
		d      sanziv1.Directive
		to     []string
	)
	cmd := &cobra.Command{
		Use:   "directive --to CODES --title TEXT --task TEXT --deadline YYYY-MM-DD",
		Short: "Issue a directive (政令督办) to towns and villages; their reports come back up",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(to) == 0 || strings.TrimSpace(d.GetTitle()) == "" || strings.TrimSpace(d.GetTask()) == "" {
				return fmt.Errorf("--to, --title and --task are required")
			}
			if _, err := time.Parse(time.DateOnly, d.GetDeadline()); err != nil {
				return fmt.Errorf("--deadline %q: a date, YYYY-MM-DD", d.GetDeadline())
			}
			for _, a := range to {
				if strings.Trim(a, "0123456789") != "" || len(a) < 6 || len(a) > 12 {
					return fmt.Errorf("--to %q: an org code or its prefix (6 to 12 digits)", a)
				}
			}
			c, err := t.districtChain(server)
			if err != nil {
				return err
			}
			defer c.close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			head, err := c.head(ctx)
			if err != nil {
				return explain(server, err)
			}
			d.Org, d.Addressees = c.origin, to
			id, err := c.append(ctx, head, g.author, sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE, &d)
			if err != nil {
				return explain(server, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "directive %s issued to %s, due %s; towns and villages see it as they pull\n", id, strings.Join(to, ","), d.GetDeadline())
			return nil
		},
	}
	t.add(cmd, "admin")
	cmd.Flags().StringVar(&server, "server", "127.0.0.1:7502", "API address of any district member")
	cmd.Flags().StringSliceVar(&to, "to", nil, "org codes or prefixes addressed (9 digits: a town and its villages)")
	cmd.Flags().StringVar(&d.Title, "title", "", "short title")
	cmd.Flags().StringVar(&d.Task, "task", "", "what must be done")
	cmd.Flags().StringVar(&d.Deadline, "deadline", "", "report by, YYYY-MM-DD")
	return cmd
}

func newDirectivesCmd(g *globals) *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the district's directives addressed to this node, with its reports",
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDirectiveServiceClient(conn).ListDirectives(ctx, &sanziv1.ListDirectivesRequest{})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, d := range resp.GetDirectives() {
					rows = append(rows, []string{d.GetEntry().GetId(), d.GetDirective().GetDeadline(), fmt.Sprint(d.GetDone()), fmt.Sprint(len(d.GetReportIds())), d.GetDirective().GetTitle()})
				}
				table(cmd.OutOrStdout(), []string{"ID", "DEADLINE", "DONE", "REPORTS", "TITLE"}, rows)
				return nil
			})
		},
	}
	var rep sanziv1.DirectiveReport
	report := &cobra.Command{
		Use:   "report DIRECTIVE_ID --text TEXT [--done]",
		Short: "Report on a directive; the report travels up to the district",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep.DirectiveId = args[0]
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDirectiveServiceClient(conn).ReportDirective(ctx, &sanziv1.ReportDirectiveRequest{Author: g.author, Report: &rep})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "report recorded (entry %s)\n", resp.GetEntry().GetId())
				return nil
			})
		},
	}
	report.Flags().StringVar(&rep.Text, "text", "", "what was done")
	report.Flags().BoolVar(&rep.Done, "done", false, "the task is done")
	cmd := &cobra.Command{Use: "directives", Short: "The district's directives (政令督办) for this node, and reports on them"}
	cmd.AddCommand(list, report)
	return cmd
}
