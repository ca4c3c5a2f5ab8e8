package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// personFlags connect to a district member as a signed-in person: TLS that
// checks the member's certificate against the district CA (--tls-dir holds
// ca.crt; no certificate of one's own), and the bearer token from `sanzi
// district login` (--token, default $SANZI_TOKEN). The member acts as the
// token's account: it is the author of what the command writes.
type personFlags struct{ caDir, token, server string }

func (p *personFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.caDir, "tls-dir", "", "folder with the district's ca.crt, to check the member's certificate")
	cmd.Flags().StringVar(&p.token, "token", "", "bearer token from `sanzi district login` (default $SANZI_TOKEN)")
	cmd.Flags().StringVar(&p.server, "server", "127.0.0.1:7502", "API address of any district member")
}

// dial connects to the member; signedIn says whether a token is required
// (every call but sign-in).
func (p *personFlags) dial(signedIn bool) (*grpc.ClientConn, error) {
	if p.caDir == "" {
		return nil, errors.New("--tls-dir is required: the folder with the district's ca.crt")
	}
	pool, err := pki.LoadPool(p.caDir)
	if err != nil {
		return nil, err
	}
	cfg := pki.ClientConfig(pool, tls.Certificate{}, pki.AllowRoles(pki.RoleDistrict))
	cfg.Certificates = nil // a person: no certificate, a token
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg)), limits.CallOptions()}
	if signedIn {
		tok := strings.TrimSpace(p.token)
		if tok == "" {
			tok = strings.TrimSpace(os.Getenv("SANZI_TOKEN"))
		}
		if tok == "" {
			return nil, &exitError{code: 2, msg: "sanzi: sign in first: `sanzi district login --account ID`, then give the token with --token or SANZI_TOKEN"}
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: tok})) // over TLS only
	}
	conn, err := grpc.NewClient(p.server, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", p.server, err)
	}
	return conn, nil
}

// call runs fn on a signed-in connection to the member, bounded, and
// explains a refusal.
func (p *personFlags) call(cmd *cobra.Command, fn func(ctx context.Context, conn *grpc.ClientConn) error) error {
	conn, err := p.dial(true)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	return explain(p.server, fn(ctx, conn))
}

// readPassword reads a password from a file (mode 0600, keys.ReadSecret),
// or "-" for one line of standard input.
func readPassword(cmd *cobra.Command, path string) (string, error) {
	if path == "-" {
		var line string
		if _, err := fmt.Fscanln(cmd.InOrStdin(), &line); err != nil {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		return line, nil
	}
	raw, err := keys.ReadSecret(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(raw), "\r\n"), nil
}

func newDistrictLoginCmd(g *globals) *cobra.Command {
	var (
		p                     personFlags
		account, pwFile, next string
		label                 string
	)
	cmd := &cobra.Command{
		Use:   "login --account ID --password-file FILE",
		Short: "Sign in at a district member and print a bearer token for the district commands",
		Long: `Sign in with the district account's password and print a bearer token
(shown once) for --token or SANZI_TOKEN. A one-time password (a new account,
a reset, the first administrator) must be replaced at this sign-in: give the
new one with --new-password-file. Any member signs in any account of the
district.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if account == "" || pwFile == "" {
				return &exitError{code: 2, msg: "sanzi: --account and --password-file are required"}
			}
			pw, err := readPassword(cmd, pwFile)
			if err != nil {
				return fmt.Errorf("--password-file: %w", err)
			}
			req := &sanziv1.LoginRequest{Account: account, Password: pw, Kind: "token", Label: label}
			if next != "" {
				if req.NewPassword, err = readPassword(cmd, next); err != nil {
					return fmt.Errorf("--new-password-file: %w", err)
				}
			}
			conn, err := p.dial(false)
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			resp, err := sanziv1.NewAccountServiceClient(conn).Login(ctx, req)
			if err != nil {
				return explain(p.server, err)
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.GetSecret())
			fmt.Fprintf(cmd.ErrOrStderr(), "signed in as %s until %s; export SANZI_TOKEN=<the line above>\n", resp.GetAccount().GetAccount(), resp.GetExpiresAt().AsTime().Local().Format(time.DateTime))
			return nil
		},
	}
	p.add(cmd)
	cmd.Flags().StringVar(&account, "account", "", "account id")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "file holding the password (mode 0600), or - for standard input")
	cmd.Flags().StringVar(&next, "new-password-file", "", "file holding a new password, to replace a one-time password")
	cmd.Flags().StringVar(&label, "label", "district cli", "name of the token in `tokens` lists")
	return cmd
}
