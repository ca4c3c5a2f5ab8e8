package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// dial connects to the node named by --server, carrying the bearer token
// of the sign-in (see credential) on every call.
func (g *globals) dial() (*grpc.ClientConn, error) {
	tok, err := g.credential()
	if err != nil {
		return nil, err
	}
	return g.dialWith(tok)
}

// dialWith connects to --server with token as the bearer credential of
// every call ("" sends none, for sign-in itself). A loopback address is
// reached without TLS unless --server-ca is given; any other address only
// over TLS, so that a token never crosses a network in the clear.
func (g *globals) dialWith(token string) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{limits.CallOptions()}
	loop := isLoopback(g.server)
	switch {
	case g.serverCA != "":
		pem, err := os.ReadFile(g.serverCA)
		if err != nil {
			return nil, fmt.Errorf("--server-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--server-ca %s: no PEM certificate in it", g.serverCA)
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
		loop = false
	case loop:
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	default:
		// The system's roots; a node with a certificate of the district
		// CA needs --server-ca.
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})))
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: token, insecureOK: loop}))
	}
	conn, err := grpc.NewClient(g.server, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", g.server, err)
	}
	return conn, nil
}

// bearer sends "authorization: Bearer <token>" with every call. It asks
// gRPC for a secure transport unless the node is on this machine
// (insecureOK), so a misconfigured dial fails instead of leaking the token.
type bearer struct {
	token      string
	insecureOK bool
}

func (b bearer) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return !b.insecureOK }

// isLoopback reports whether a host:port address names this machine:
// localhost or a loopback IP (127.0.0.0/8, ::1).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		host = strings.TrimSpace(addr)
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// credential is the bearer token for --server: --token (or SANZI_TOKEN),
// else the one `sanzi login` saved for that server, else none (the node
// then answers "sign in first", see explain).
func (g *globals) credential() (string, error) {
	if t := strings.TrimSpace(g.token); t != "" {
		return t, nil
	}
	st, err := g.tokens()
	if err != nil {
		return "", err
	}
	saved, ok, err := st.get(g.server)
	if err != nil || !ok {
		return "", err
	}
	return saved.Token, nil
}

// credentialFor is the bearer token for a node's REST address (sync
// status, backup): --token (or SANZI_TOKEN), else one saved for that
// address, else the one saved for --server.
func (g *globals) credentialFor(httpAddr string) (string, error) {
	if t := strings.TrimSpace(g.token); t != "" {
		return t, nil
	}
	st, err := g.tokens()
	if err != nil {
		return "", err
	}
	if saved, ok, err := st.get(httpAddr); err != nil || ok {
		return saved.Token, err
	}
	return g.credential()
}

// httpGet asks a node's REST API for path with the bearer token of
// credentialFor. Like dial, it refuses to send a token in the clear beyond
// loopback: such a node serves HTTPS (TODO(issue 12): an https option for
// these commands; today they are for the node's own machine).
func (g *globals) httpGet(ctx context.Context, c *http.Client, httpAddr, path string) (*http.Response, error) {
	tok, err := g.credentialFor(httpAddr)
	if err != nil {
		return nil, err
	}
	if tok != "" && !isLoopback(httpAddr) {
		return nil, fmt.Errorf("%s is not on this machine: run this on the node's machine against its loopback address", httpAddr)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+path, nil)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return c.Do(req)
}

// tokens is the store of saved sign-ins (the user's config folder unless a
// test set another).
func (g *globals) tokens() (*tokenStore, error) {
	if g.store != nil {
		return g.store, nil
	}
	return defaultTokenStore()
}

// call runs fn with a connection and a deadline, and turns a gRPC error into
// a message naming the fields the node refused.
func (g *globals) call(cmd *cobra.Command, fn func(ctx context.Context, conn *grpc.ClientConn) error) error {
	conn, err := g.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
	defer cancel()
	return explain(g.server, fn(ctx, conn))
}

func explain(server string, err error) error {
	st, ok := status.FromError(err)
	if err == nil || !ok {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", st.Message(), st.Code())
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 1 {
			for _, v := range br.GetFieldViolations() {
				if line := v.GetField() + ": " + v.GetDescription(); !strings.Contains(st.Message(), line) {
					fmt.Fprintf(&b, "\n  %s", line)
				}
			}
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		fmt.Fprintf(&b, "\nis a node running at %s? (set --server or SANZI_SERVER)", server)
	case codes.Unauthenticated:
		fmt.Fprintf(&b, "\nsign in with `sanzi login --server %s`, or give a token with --token or SANZI_TOKEN", server)
	}
	return &exitError{code: 1, msg: "sanzi: " + b.String()}
}

// printJSON writes m as indented JSON with the API's field names.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// hitter is a record response that can carry rule warnings.
type hitter interface{ GetHits() []*sanziv1.RuleHit }

// printEntry reports a recorded entry and the rules that warned about it.
func (g *globals) printEntry(w io.Writer, resp proto.Message, e *sanziv1.EntryMeta) error {
	if g.json {
		return printJSON(w, resp)
	}
	if _, err := fmt.Fprintf(w, "recorded %s (seq %d, hash %s…)\n", e.GetId(), e.GetSeq(), short(e.GetHash())); err != nil {
		return err
	}
	if h, ok := resp.(hitter); ok {
		for _, hit := range h.GetHits() {
			fmt.Fprintf(w, "warning %s (%s): %s\n", hit.GetCode(), hit.GetSeverity(), hit.GetReason())
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// enumFlag parses a lower-case short name ("expense") into an enum value of
// the given prefix ("TRANSACTION_KIND_").
func enumFlag(flag, val, prefix string, values map[string]int32) (int32, error) {
	if val == "" {
		return 0, nil
	}
	name := prefix + strings.ToUpper(strings.ReplaceAll(val, "-", "_"))
	v, ok := values[name]
	if !ok {
		var names []string
		for n, num := range values {
			if num != 0 {
				names = append(names, strings.ToLower(strings.TrimPrefix(n, prefix)))
			}
		}
		return 0, fmt.Errorf("--%s %q: not one of %s", flag, val, strings.Join(slices.Sorted(slices.Values(names)), ", "))
	}
	return v, nil
}

func enumShort(s fmt.Stringer, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), prefix))
}

// yuanFlag parses an amount in yuan for flag name.
func yuanFlag(flag, val string) (int64, error) {
	if val == "" {
		return 0, nil
	}
	fen, err := money.ParseYuan(val)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", flag, err)
	}
	return fen, nil
}

// partyFlags are the counterparty flags shared by several commands.
type partyFlags struct{ name, id, account, bank, phone string }

func (p *partyFlags) add(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.StringVar(&p.name, "counterparty", "", what+": name of the person or organisation")
	f.StringVar(&p.id, "id-number", "", what+": 18-digit resident ID or 18-character unified social credit code")
	f.StringVar(&p.account, "bank-account", "", what+": bank account number")
	f.StringVar(&p.bank, "bank-name", "", what+": bank name")
	f.StringVar(&p.phone, "phone", "", what+": phone number")
}

func (p *partyFlags) proto() *sanziv1.Counterparty {
	if *p == (partyFlags{}) {
		return nil
	}
	return &sanziv1.Counterparty{Name: p.name, IdNumber: p.id, BankAccount: p.account, BankName: p.bank, Phone: p.phone}
}

// pageFlags adds the flags every list command shares.
func pageFlags(cmd *cobra.Command, org *string, size *int32, token *string) {
	cmd.Flags().StringVar(org, "org", "", "only this org")
	cmd.Flags().Int32Var(size, "limit", 100, "page size (max 1000)")
	cmd.Flags().StringVar(token, "page-token", "", "continue from an earlier page")
}

// showCmd makes a "show ID" command that prints one nested record as JSON.
func showCmd[R proto.Message](g *globals, short string, get func(ctx context.Context, conn *grpc.ClientConn, id string) (R, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := get(ctx, conn, args[0])
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), resp)
			})
		},
	}
}
