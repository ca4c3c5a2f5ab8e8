package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/keys"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// maxSecretLine bounds a password read from a file or a pipe.
const maxSecretLine = 4096

// prompter asks a person for a line or a password. On a terminal the
// password is not echoed; from a pipe one line is read per question, so a
// script can answer in order.
type prompter struct {
	in  *os.File
	out io.Writer
	rd  *bufio.Reader
}

func newPrompter(cmd *cobra.Command) *prompter {
	return &prompter{in: os.Stdin, out: cmd.ErrOrStderr()}
}

func (p *prompter) terminal() bool { return term.IsTerminal(int(p.in.Fd())) }

// line asks question and returns the answer without its line end.
func (p *prompter) line(question string) (string, error) {
	fmt.Fprint(p.out, question)
	if p.rd == nil {
		p.rd = bufio.NewReaderSize(p.in, maxSecretLine)
	}
	s, err := p.rd.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no answer on standard input")
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// secret asks question without echo on a terminal.
func (p *prompter) secret(question string) (string, error) {
	if !p.terminal() {
		return p.line(question)
	}
	fmt.Fprint(p.out, question)
	b, err := term.ReadPassword(int(p.in.Fd()))
	fmt.Fprintln(p.out)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// readSecretFile reads a password from a file only its owner may read
// (keys.ReadSecret), without the line end.
func readSecretFile(flag, path string) (string, error) {
	raw, err := keys.ReadSecret(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	if len(raw) > maxSecretLine {
		return "", fmt.Errorf("--%s %s: more than %d bytes", flag, path, maxSecretLine)
	}
	s := strings.TrimRight(string(raw), "\r\n")
	if s == "" {
		return "", fmt.Errorf("--%s %s: empty", flag, path)
	}
	return s, nil
}

func newLoginCmd(g *globals) *cobra.Command {
	var account, pwFile, newPwFile, label string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a node and keep the token for the commands that follow",
		Long: `Sign in to the node at --server with an account and its password, and keep
the bearer token the node issues in your config folder (tokens.json under
` + "`sanzi`" + ` in os.UserConfigDir(), readable by you only), filed by --server: every
later command to that server sends it. A token expires (30 days by default);
"sanzi logout" revokes it at once.

The password is asked for without echo; a script gives --password-file (a
file readable by its owner only) or one line on standard input. A new
account's password, and the first administrator's, is a one-time password:
sign-in asks for a new one (twice; from a pipe, the next line once) or reads
--new-password-file.

Examples:
  sanzi login --server 127.0.0.1:7401 --account admin
  sanzi login --account zhang.san --password-file ~/.sanzi-pw`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := newPrompter(cmd)
			var err error
			if account == "" {
				if !p.terminal() {
					return errors.New("--account is required when standard input is not a terminal")
				}
				if account, err = p.line("account: "); err != nil {
					return err
				}
			}
			password := ""
			if pwFile != "" {
				password, err = readSecretFile("password-file", pwFile)
			} else {
				password, err = p.secret("password for " + account + ": ")
			}
			if err != nil {
				return err
			}
			newPassword := ""
			if newPwFile != "" {
				if newPassword, err = readSecretFile("new-password-file", newPwFile); err != nil {
					return err
				}
			}
			if label == "" {
				label = "sanzi cli"
				if h, err := os.Hostname(); err == nil {
					label += " on " + h
				}
				label = truncate(label, 100)
			}
			conn, err := g.dialWith("")
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			resp, err := signIn(ctx, sanziv1.NewAccountServiceClient(conn), &sanziv1.LoginRequest{Account: account, Password: password, NewPassword: newPassword, Label: label},
				func() (string, error) { return askNewPassword(p) })
			if err != nil {
				return explain(g.server, err)
			}
			st, err := g.tokens()
			if err != nil {
				return err
			}
			if err := st.put(g.server, savedToken{Token: resp.GetSecret(), Account: resp.GetAccount().GetAccount(), ID: resp.GetId(), ExpiresAt: resp.GetExpiresAt().AsTime()}); err != nil {
				return fmt.Errorf("signed in, but %w", err)
			}
			if g.json {
				resp.Secret = "" // kept in the file; not printed
				return printJSON(cmd.OutOrStdout(), resp)
			}
			a := resp.GetAccount()
			fmt.Fprintf(cmd.OutOrStdout(), "signed in to %s as %s (%s, org %s, roles %s); token %s expires %s\n",
				g.server, a.GetAccount(), a.GetName(), a.GetOrg(), orNone(a.GetRoles()), resp.GetId(), resp.GetExpiresAt().AsTime().Local().Format(time.DateTime))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "account id to sign in as (asked for on a terminal when not given)")
	f.StringVar(&pwFile, "password-file", "", "read the password from this file (mode 0600) instead of asking")
	f.StringVar(&newPwFile, "new-password-file", "", "a new password (mode 0600 file) to replace a one-time password at this sign-in; also changes an ordinary one")
	f.StringVar(&label, "label", "", "name of the token in `sanzi accounts tokens list` (default: sanzi cli on HOST)")
	return cmd
}

// signIn calls Login and, when the node says the password is a one-time
// password that must be replaced, asks for a new one with ask and signs in
// again with it.
func signIn(ctx context.Context, c sanziv1.AccountServiceClient, req *sanziv1.LoginRequest, ask func() (string, error)) (*sanziv1.LoginResponse, error) {
	resp, err := c.Login(ctx, req)
	if !mustChangePassword(err) || req.GetNewPassword() != "" {
		return resp, err
	}
	np, aerr := ask()
	if aerr != nil {
		return nil, fmt.Errorf("%s: %w", status.Convert(err).Message(), aerr)
	}
	req.NewPassword = np
	return c.Login(ctx, req)
}

// mustChangePassword reports whether a Login failed only because the
// password is a one-time password (accounts.ErrPasswordChangeRequired,
// answered as FailedPrecondition).
func mustChangePassword(err error) bool {
	st, ok := status.FromError(err)
	return ok && err != nil && st.Code() == codes.FailedPrecondition
}

// askNewPassword asks for a new password twice on a terminal; from a pipe
// it reads the next line once (a script can also give --new-password-file).
func askNewPassword(p *prompter) (string, error) {
	if !p.terminal() {
		np, err := p.line("new password (this is a one-time password): ")
		if err != nil {
			return "", fmt.Errorf("this is a one-time password: give a new one on the next line or with --new-password-file: %w", err)
		}
		return np, nil
	}
	fmt.Fprintln(p.out, "This is a one-time password; choose a new one (at least 10 characters).")
	for range 3 {
		a, err := p.secret("new password: ")
		if err != nil {
			return "", err
		}
		b, err := p.secret("new password again: ")
		if err != nil {
			return "", err
		}
		if a == b && a != "" {
			return a, nil
		}
		fmt.Fprintln(p.out, "The two do not match; once more.")
	}
	return "", errors.New("the new passwords did not match")
}

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the token of --server on the node and forget it here",
		Long: `Revoke the token used for --server (the saved one, or --token / SANZI_TOKEN)
on the node, so it stops working at once, and delete the saved one from your
config folder. A token the node no longer knows is still deleted here.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := g.credential()
			if err != nil {
				return err
			}
			if tok == "" {
				return fmt.Errorf("not signed in to %s: no saved token and no --token", g.server)
			}
			conn, err := g.dialWith(tok)
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, err = sanziv1.NewAccountServiceClient(conn).Logout(ctx, &sanziv1.LogoutRequest{})
			expired := status.Code(err) == codes.Unauthenticated
			if err != nil && !expired {
				return explain(g.server, err)
			}
			st, err := g.tokens()
			if err != nil {
				return err
			}
			if saved, ok, err := st.get(g.server); err != nil {
				return err
			} else if ok && saved.Token == tok {
				if _, err := st.remove(g.server); err != nil {
					return err
				}
			}
			if expired {
				fmt.Fprintf(cmd.OutOrStdout(), "the token was no longer valid at %s; forgotten here\n", g.server)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed out of %s (token revoked)\n", g.server)
			return nil
		},
	}
}

func newWhoAmICmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the account signed in to --server, its roles and what they allow",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := sanziv1.NewAccountServiceClient(conn).WhoAmI(ctx, &sanziv1.WhoAmIRequest{})
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(cmd.OutOrStdout(), resp)
				}
				a := resp.GetAccount()
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%s (%s) at %s node %s\n", a.GetAccount(), a.GetName(), strings.ToLower(resp.GetTier()), resp.GetNodeOrg())
				fmt.Fprintf(w, "  org          %s\n", a.GetOrg())
				fmt.Fprintf(w, "  roles        %s\n", orNone(a.GetRoles()))
				fmt.Fprintf(w, "  posts        %s\n", orNone(a.GetPosts()))
				fmt.Fprintf(w, "  permissions  %s\n", orNone(resp.GetPermissions()))
				if st, err := g.tokens(); err == nil && g.token == "" {
					if saved, ok, err := st.get(g.server); err == nil && ok {
						fmt.Fprintf(w, "  token        %s, expires %s\n", saved.ID, saved.ExpiresAt.Local().Format(time.DateTime))
					}
				}
				return nil
			})
		},
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
