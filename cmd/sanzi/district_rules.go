package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/federation/districtchain"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// districtChain connects to a district member to write the district's
// chain with the district certificate of the flags.
func (t *tlsFlags) districtChain(addr string) (*districtchain.Chain, error) {
	pool, _, err := t.load()
	if err != nil {
		return nil, err
	}
	iss, err := pki.LoadIssued(t.dir, t.name)
	if err != nil {
		return nil, err
	}
	return districtchain.Dial(districtchain.Config{Addr: addr, Pool: pool, Issued: iss, Name: t.name})
}

// writeDistrict runs write on the district's chain through the member at
// server and explains a member's refusal.
func (t *tlsFlags) writeDistrict(cmd *cobra.Command, server string, write func(ctx context.Context, c *districtchain.Chain) error) error {
	c, err := t.districtChain(server)
	if err != nil {
		return err
	}
	defer c.Close()
	return explain(server, write(cmd.Context(), c))
}

// flagged names a field the district's writer refused by the flag that
// set it (flags: field → flag name), so the person reads what to change.
func flagged(err error, flags map[string]string) error {
	var fe *entries.FieldError
	if errors.As(err, &fe) {
		if f, ok := flags[fe.Field]; ok {
			return fmt.Errorf("--%s: %s", f, fe.Reason)
		}
	}
	return err
}

func newDistrictRulesCmd(g *globals) *cobra.Command {
	var p personFlags
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Publish rule sets from the district: they flow down to every town and village",
		Long: `A rule set is drafted by one district rules officer and published by another
(four eyes, checked by the member on the signed-in accounts), both as entries
of the district's own chain, which the cluster's leader signs with the
district chain's key; the author of each entry is the signed-in account.
Towns pull the chain from the district and villages from their town; each
node checks the signer's certificate, the links, the signature and the two
accounts, and switches to a published set from its next entry on.

Sign in first with "sanzi district login" and give the token with --token or
SANZI_TOKEN.`,
	}
	submit := &cobra.Command{
		Use:   "submit --rules FILE",
		Short: "Record a draft rule set in the district's chain, as the signed-in officer",
		RunE: func(cmd *cobra.Command, args []string) error {
			file, _ := cmd.Flags().GetString("rules")
			raw, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("--rules: %w", err)
			}
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).SubmitRuleSet(ctx, &sanziv1.SubmitRuleSetRequest{RulesJson: string(raw)})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "draft %s recorded in the district's chain (entry %s) by %s; another rules officer publishes it\n",
					resp.GetSummary().GetVersion(), resp.GetEntry().GetId(), resp.GetSummary().GetDraftedBy())
				return nil
			})
		},
	}
	submit.Flags().String("rules", "", "draft rule set file (JSON)")
	publish := &cobra.Command{
		Use:   "publish VERSION",
		Short: "Publish a draft from the district's chain (not by its own drafter)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).PublishRuleSet(ctx, &sanziv1.PublishRuleSetRequest{Version: args[0]})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rule set %s published by the district (entry %s, by %s); towns and villages apply it as they pull\n",
					args[0], resp.GetEntry().GetId(), resp.GetSummary().GetPublishedBy())
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the district's rule sets, their drafters and publishers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewRuleServiceClient(conn).ListRuleSets(ctx, &sanziv1.ListRuleSetsRequest{})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, r := range resp.GetRuleSets() {
					rows = append(rows, []string{r.GetVersion(), r.GetStatus(), r.GetDraftedBy(), r.GetPublishedBy(), r.GetDraftId(), r.GetPublishedId()})
				}
				table(cmd.OutOrStdout(), []string{"VERSION", "STATUS", "DRAFTED BY", "PUBLISHED BY", "DRAFT", "PUBLICATION"}, rows)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{submit, publish, list} {
		p.add(c)
	}
	cmd.AddCommand(submit, publish, list)
	return cmd
}

func newDistrictCatalogCmd(g *globals) *cobra.Command {
	var (
		p             personFlags
		file, version string
	)
	cmd := &cobra.Command{Use: "catalog", Short: "Draft and publish catalog versions at the district: they flow down to every town and village"}
	draft := &cobra.Command{
		Use:   "draft --version V [--catalog FILE]",
		Short: "Record a catalog version (matters, steps, posts, time limits) as a draft in the district's chain",
		Long: `The catalog (职责权限库) is every supervised matter with its steps, the post
that handles each and each step's time limit. FILE is the catalog as JSON
(the sanzi.v1.Catalog message); without it the built-in default is
drafted under --version. The member checks it first: a step routed to an
unknown post or without a time limit is refused there, before it reaches
any node. A draft is inert: a second district rules officer publishes it
(sanzi district catalog publish). Drafted by the signed-in district rules
officer (--token or SANZI_TOKEN).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cat *sanziv1.Catalog // nil: the built-in default
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
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDistrictServiceClient(conn).DraftCatalog(ctx, &sanziv1.DraftCatalogRequest{Catalog: cat, Version: version})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "catalog %s (%d matters) drafted by %s (entry %s); a second rules officer publishes it: sanzi district catalog publish %s\n",
					resp.GetCatalog().GetVersion(), len(resp.GetCatalog().GetMatters()), resp.GetCatalog().GetDraftedBy(), resp.GetEntryId(), resp.GetCatalog().GetVersion())
				return nil
			})
		},
	}
	draft.Flags().StringVar(&file, "catalog", "", "catalog file (JSON); default: the built-in catalog")
	draft.Flags().StringVar(&version, "version", "", "version to draft it under (required unless FILE has one)")
	publish := &cobra.Command{
		Use:   "publish VERSION",
		Short: "Publish a catalog draft: a second district rules officer, not its drafter",
		Long: `Towns and villages open new procedures under it from their next entry on;
procedures already open keep the version they were opened under. Each of
them checks that drafter and publisher are two accounts and ignores a
catalog its drafter published. Published by the signed-in district rules
officer (--token or SANZI_TOKEN).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDistrictServiceClient(conn).PublishCatalog(ctx, &sanziv1.PublishCatalogRequest{Version: args[0]})
				if err != nil {
					return err
				}
				c := resp.GetCatalog()
				fmt.Fprintf(cmd.OutOrStdout(), "catalog %s (%d matters) drafted by %s, published by %s (entry %s); towns and villages use it as they pull\n",
					c.GetVersion(), len(c.GetMatters()), c.GetDraftedBy(), c.GetPublishedBy(), resp.GetEntryId())
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{draft, publish} {
		p.add(c)
	}
	cmd.AddCommand(draft, publish)
	return cmd
}

func newDistrictDirectiveCmd(g *globals) *cobra.Command {
	var (
		p  personFlags
		d  sanziv1.Directive
		to []string
	)
	cmd := &cobra.Command{
		Use:   "directive --to CODES --title TEXT --task TEXT --deadline YYYY-MM-DD",
		Short: "Issue a directive (政令督办) to towns and villages; their reports come back up",
		Long: `Issued by the signed-in district rules officer (--token or SANZI_TOKEN) as an
entry of the district's chain; towns and villages see it as they pull.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			d.Addressees = to
			return p.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewDistrictServiceClient(conn).IssueDirective(ctx, &sanziv1.IssueDirectiveRequest{Directive: &d})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "directive %s issued to %s, due %s; towns and villages see it as they pull\n", resp.GetEntryId(), strings.Join(to, ","), d.GetDeadline())
				return nil
			})
		},
	}
	p.add(cmd)
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
