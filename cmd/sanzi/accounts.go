package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newAccountsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "Manage the people who may use a node: accounts, roles, posts, passwords, tokens",
		Long: `Manage the accounts of the node at --server. Every change (add, grant,
revoke, disable, reset-password) is an entry of the node's chain made by you,
so the district can tell who made whom what. Passwords and tokens stay on
the node and are never synced.

Managing accounts needs the admin role (or town_admin at a town) within the
account's org; "tokens" lists and revokes your own tokens without it.

Roles: accountant, village_committee, supervisory_committee, town_reviewer,
town_admin, district_analyst, district_rules_officer, auditor, admin.
Posts are the catalog's posts at the account's org, e.g. village.accountant,
town.agency_accountant.`,
	}
	cmd.AddCommand(newAccountsAddCmd(g), newAccountsListCmd(g), newAccountsShowCmd(g),
		newAccountsGrantCmd(g, true), newAccountsGrantCmd(g, false), newAccountsDisableCmd(g),
		newAccountsResetCmd(g), newAccountsTokensCmd(g))
	return cmd
}

func newAccountsAddCmd(g *globals) *cobra.Command {
	var name, org, pwFile string
	var roles, posts []string
	cmd := &cobra.Command{
		Use:   "add ID",
		Short: "Create an account and print its one-time password once",
		Long: `Create the account ID (lower-case letters, digits, '.', '_' and '-', e.g.
zhang.san) with a display name, an org scope and its roles and posts. The node
makes a one-time password, printed here once: hand it over in person; it must
be changed at the first sign-in. --password-file sets the first password
instead (it must be changed at the first sign-in all the same).

Example:
  sanzi accounts add zhang.san --name 张三 --org 350505100201 --role accountant --post village.accountant`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(name) == "" {
				return errors.New("--name is required: the person's name as colleagues know it")
			}
			pw := ""
			if pwFile != "" {
				var err error
				if pw, err = readSecretFile("password-file", pwFile); err != nil {
					return err
				}
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				c := sanziv1.NewAccountServiceClient(conn)
				if org == "" {
					me, err := c.WhoAmI(ctx, &sanziv1.WhoAmIRequest{})
					if err != nil {
						return err
					}
					org = me.GetAccount().GetOrg()
				}
				resp, err := c.CreateAccount(ctx, &sanziv1.CreateAccountRequest{Author: g.author, Password: pw,
					Account: &sanziv1.Account{Account: args[0], Name: name, Org: org, Roles: roles, Posts: posts}})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				w := cmd.OutOrStdout()
				printAccount(w, resp.GetAccount())
				if otp := resp.GetOneTimePassword(); otp != "" {
					fmt.Fprintf(w, "one-time password (shown this once; to be changed at the first sign-in): %s\n", otp)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "display name, e.g. 张三 (required)")
	f.StringVar(&org, "org", "", "12-digit org code of the account's scope (default: your own org)")
	f.StringSliceVar(&roles, "role", nil, "role to hold (repeat or comma-separate)")
	f.StringSliceVar(&posts, "post", nil, "catalog post to hold at --org (repeat or comma-separate)")
	f.StringVar(&pwFile, "password-file", "", "first password from this file (mode 0600) instead of a one-time password printed here")
	return cmd
}

func newAccountsListCmd(g *globals) *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the accounts in your scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAccountServiceClient(conn).ListAccounts(ctx, &sanziv1.ListAccountsRequest{Org: org})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, a := range resp.GetAccounts() {
					rows = append(rows, []string{a.GetAccount(), a.GetName(), a.GetOrg(), strings.Join(a.GetRoles(), ","), strings.Join(a.GetPosts(), ","), a.GetStatus(), when(a.GetChangedAt())})
				}
				table(cmd.OutOrStdout(), []string{"ACCOUNT", "NAME", "ORG", "ROLES", "POSTS", "STATUS", "CHANGED"}, rows)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "only accounts of this org (within your scope)")
	return cmd
}

func newAccountsShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one account: org, roles, posts, status and who changed it last",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAccountServiceClient(conn).GetAccount(ctx, &sanziv1.GetAccountRequest{Account: args[0]})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printAccount(cmd.OutOrStdout(), resp.GetAccount())
				return nil
			})
		},
	}
}

// grantFlags are --role and --post of grant and revoke: exactly one.
type grantFlags struct{ role, post string }

func (f *grantFlags) add(cmd *cobra.Command, verb string) {
	cmd.Flags().StringVar(&f.role, "role", "", "the role to "+verb)
	cmd.Flags().StringVar(&f.post, "post", "", "the catalog post to "+verb)
}

func (f *grantFlags) check() error {
	if (f.role == "") == (f.post == "") {
		return errors.New("give exactly one of --role and --post")
	}
	return nil
}

// newAccountsGrantCmd makes "grant" (grant true) or "revoke".
func newAccountsGrantCmd(g *globals, grant bool) *cobra.Command {
	var f grantFlags
	verb, short := "grant", "Give an account one role or post (an entry of the node's chain)"
	if !grant {
		verb, short = "revoke", "Take one role or post away from an account (an entry of the node's chain)"
	}
	cmd := &cobra.Command{
		Use:     verb + " ID (--role ROLE | --post POST)",
		Short:   short,
		Example: fmt.Sprintf("  sanzi accounts %[1]s zhang.san --role village_committee\n  sanzi accounts %[1]s li.si --post town.agency_accountant", verb),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				c := sanziv1.NewAccountServiceClient(conn)
				var a *sanziv1.Account
				var resp interface {
					GetAccount() *sanziv1.Account
				}
				var err error
				if grant {
					var r *sanziv1.GrantAccountResponse
					r, err = c.GrantAccount(ctx, &sanziv1.GrantAccountRequest{Author: g.author, Account: args[0], Role: f.role, Post: f.post})
					resp = r
				} else {
					var r *sanziv1.RevokeAccountResponse
					r, err = c.RevokeAccount(ctx, &sanziv1.RevokeAccountRequest{Author: g.author, Account: args[0], Role: f.role, Post: f.post})
					resp = r
				}
				if err != nil {
					return err
				}
				a = resp.GetAccount()
				if g.json {
					return printJSON(cmd.OutOrStdout(), a)
				}
				printAccount(cmd.OutOrStdout(), a)
				return nil
			})
		},
	}
	f.add(cmd, verb)
	return cmd
}

func newAccountsDisableCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "disable ID --reason TEXT",
		Short: "Close an account: its tokens and sessions stop working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: it is kept in the chain for people reading the trail")
			}
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAccountServiceClient(conn).DisableAccount(ctx, &sanziv1.DisableAccountRequest{Author: g.author, Account: args[0], Reason: reason})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				printAccount(cmd.OutOrStdout(), resp.GetAccount())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the chain)")
	return cmd
}

func newAccountsResetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-password ID",
		Short: "Give an account a new one-time password, printed once",
		Long: `Give the account a new one-time password, printed here once, to be changed
at its next sign-in. Its old password stops working; the reset is an entry of
the node's chain (the password is not).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAccountServiceClient(conn).ResetPassword(ctx, &sanziv1.ResetPasswordRequest{Author: g.author, Account: args[0]})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "one-time password for %s (shown this once; to be changed at the next sign-in): %s\n", args[0], resp.GetOneTimePassword())
				return nil
			})
		},
	}
}

func newAccountsTokensCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List and revoke live tokens and browser sessions (yours, or an account's in your scope)",
	}
	var account string
	list := &cobra.Command{
		Use:   "list",
		Short: "List live tokens and sessions (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAccountServiceClient(conn).ListTokens(ctx, &sanziv1.ListTokensRequest{Account: account})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				var rows [][]string
				for _, k := range resp.GetTokens() {
					rows = append(rows, []string{k.GetId(), k.GetAccount(), k.GetKind(), k.GetLabel(), k.GetAddress(), when(k.GetCreatedAt()), when(k.GetExpiresAt())})
				}
				table(cmd.OutOrStdout(), []string{"ID", "ACCOUNT", "KIND", "LABEL", "ADDRESS", "CREATED", "EXPIRES"}, rows)
				return nil
			})
		},
	}
	list.Flags().StringVar(&account, "account", "", "whose tokens (default: your own; another's needs manage_accounts)")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "End a token or session by its id (from tokens list), at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := sanziv1.NewAccountServiceClient(conn).RevokeToken(ctx, &sanziv1.RevokeTokenRequest{Id: args[0]}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(list, revoke)
	return cmd
}

// printAccount writes one account as labelled lines.
func printAccount(w io.Writer, a *sanziv1.Account) {
	fmt.Fprintf(w, "%s (%s)\n", a.GetAccount(), a.GetName())
	fmt.Fprintf(w, "  org      %s\n", a.GetOrg())
	fmt.Fprintf(w, "  roles    %s\n", orNone(a.GetRoles()))
	fmt.Fprintf(w, "  posts    %s\n", orNone(a.GetPosts()))
	st := a.GetStatus()
	if r := a.GetDisabledReason(); r != "" {
		st += ": " + r
	}
	fmt.Fprintf(w, "  status   %s\n", st)
	fmt.Fprintf(w, "  created  %s by %s (%s)\n", when(a.GetCreatedAt()), a.GetCreatedBy(), a.GetCreatedEntry())
	if a.GetLastEntry() != "" && a.GetLastEntry() != a.GetCreatedEntry() {
		fmt.Fprintf(w, "  changed  %s by %s (%s)\n", when(a.GetChangedAt()), a.GetChangedBy(), a.GetLastEntry())
	}
}

// when formats a timestamp in local time, "" when unset.
func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().Local().Format(time.DateTime)
}
