package main

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public/proof"
	"github.com/sanzi/sanzi/node/pki"
)

// newVerifyPublicCmd is `sanzi verify-public URL` (issue 15): anyone
// checks a village's public page against the district's signed
// checkpoints. It only parses flags and prints; federation/public/proof
// does the checking.
func newVerifyPublicCmd(g *globals) *cobra.Command {
	var cfg proof.Config
	cmd := &cobra.Command{
		Use:   "verify-public URL",
		Short: "Check a village's public disclosure against the district's signed checkpoints",
		Long: `Check that the figures on a village's public page are what the village's
signed chain holds, as of a checkpoint the district signed, and that no
checkpoint contradicts another.

URL is the village's page on any district member (http(s)://host/public/villages/
<village code>, optionally /<YYYY-MM>) or the month's JSON. verify-public
fetches, from that site only:
  - the district's public key (compare its fingerprint with the one the
    district publishes on paper or in README: --fingerprint);
  - the month's disclosure as the page shows it, each figure with the hash
    of the entry it comes from;
  - the chain segment from the first entry the month shows to the village's
    head in the checkpoint that covers its approval, and checks every entry's
    hash against its bytes and its link to the one before, and the last one
    against the signed checkpoint;
  - that checkpoint and the newest ones, checking every signature, that
    consecutive ones link, and that none gives one seq two hashes.
It then recomputes the month's figures from the entries (income and expense
by category, itemized transactions, contracts and payments, assets, reversals,
cash and bank movements, masking) and compares them with the page, field by
field. Any difference, a broken signature, hash or link, or a contradiction
fails with a message naming the entry or checkpoint, and exit status 1.

With --keep DIR the checkpoints checked are kept in DIR and checked again,
next time, against what the district then serves: a district that rewrote
its history is caught by anyone who kept an earlier checkpoint.`,
		Example: `  sanzi verify-public --fingerprint 1a2b:3c4d:... https://district.example/public/villages/350505100201
  sanzi verify-public --all --keep ~/.sanzi/checkpoints http://127.0.0.1:7503/public/villages/350505100201/2026-03`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.URL, cfg.Out = args[0], cmd.OutOrStdout()
			client := &http.Client{Timeout: time.Minute}
			if g.serverCA != "" {
				pem, err := os.ReadFile(g.serverCA)
				if err != nil {
					return fmt.Errorf("--server-ca: %w", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return fmt.Errorf("--server-ca %s: no PEM certificate in it", g.serverCA)
				}
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
			}
			cfg.Client = client
			err := proof.Run(cmd.Context(), cfg)
			if errors.Is(err, proof.ErrFailed) {
				cmd.SilenceUsage = true
				fmt.Fprintf(cmd.OutOrStdout(), "verify-public: FAILED: %v\n", err)
				return errors.New("the public page does not prove itself (see above)")
			}
			if err != nil {
				cmd.SilenceUsage = true
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Fingerprint, "fingerprint", "", "the district key's fingerprint as the district publishes it (hex, colons optional); the site's key must match")
	f.StringVar(&cfg.Period, "period", "", "the month to check, YYYY-MM (default: the URL's, else the newest)")
	f.BoolVar(&cfg.All, "all", false, "check every month the site publishes for the village, and the balances carried between them")
	f.IntVar(&cfg.Recent, "recent", 20, "how many of the newest checkpoints to fetch and check against each other")
	f.StringVar(&cfg.Keep, "keep", "", "folder of checkpoints kept from earlier runs: checked against what is served now, and added to")
	return cmd
}

// newDistrictFingerprintCmd prints the fingerprint of the district's
// public key from its certificate, offline: what the district publishes
// on paper and in README for readers to compare with --fingerprint.
func newDistrictFingerprintCmd() *cobra.Command {
	var t tlsFlags
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Print the fingerprint of the key that signs the district's checkpoints",
		Long: `Print the public key and fingerprint of the district chain's certificate
(the one every member gets as --chain-cert), which signs the checkpoints the
public site serves. Publish the fingerprint where villagers can read it
(notice boards, official documents, README) so they can pass it to
"sanzi verify-public --fingerprint".`,
		Example: `  sanzi district fingerprint --tls-dir ca --cert chain`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.dir == "" || t.name == "" {
				return errors.New("--tls-dir and --cert are required: the folder and NAME of the district chain's certificate")
			}
			iss, err := pki.LoadIssued(t.dir, t.name)
			if err != nil {
				return err
			}
			pub, ok := iss.Cert.PublicKey.(ed25519.PublicKey)
			if !ok {
				return fmt.Errorf("certificate %s: not an Ed25519 key", t.name)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "district key (Ed25519, base64): %s\nfingerprint: %s\n", base64.StdEncoding.EncodeToString(pub), checkpoint.Fingerprint(pub))
			return nil
		},
	}
	t.add(cmd, "")
	return cmd
}
