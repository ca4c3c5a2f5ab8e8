package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/districtchain"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func newDistrictRevokeCmd(g *globals) *cobra.Command {
	var (
		t                        tlsFlags
		server, origin, fp, cert string
		reason                   string
		fromSeq                  int64
	)
	cmd := &cobra.Command{
		Use:   "revoke --origin CODE (--key FINGERPRINT | --certificate FILE) --reason TEXT [--from-seq N]",
		Short: "Revoke an origin's signing key: the district and every town refuse what it signs after the revocation point",
		Long: `Write a key revocation into the district's own chain. The district records
it in its replicated state as it applies the entry, and every town and
village receives it with the district's chain. From then on entries of
ORIGIN signed by the key after seq N are refused, with an error naming this
revocation; entries up to N stay valid. N defaults to the district's head
of ORIGIN now: what the district already holds was accepted before the key
was known to be lost.

The node then needs a new certificate (sanzi ca issue) and sanzi village
rekey; the entries it made after N are kept when its key rotation,
authorised by the new certificate, follows them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rev := &sanziv1.KeyRevocation{Origin: origin, Fingerprint: fp, Reason: reason, AfterSeq: uint64(max(fromSeq, 0))}
			if cert != "" {
				c, err := readCertFile(cert)
				if err == nil {
					rev, err = districtchain.CertRevocation(c, origin, reason)
				}
				if err != nil {
					return fmt.Errorf("--certificate %s: %w", cert, err)
				}
				rev.AfterSeq = uint64(max(fromSeq, 0))
			}
			return t.writeDistrict(cmd, server, func(ctx context.Context, c *districtchain.Chain) error {
				rev, id, err := c.RevokeKey(ctx, g.localAuthor(), rev, fromSeq < 0)
				if err != nil {
					return flagged(err, map[string]string{"origin": "origin", "fingerprint": "key", "reason": "reason"})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s of %s after seq %d (%s); towns enforce it as they pull the district's chain\n",
					rev.Fingerprint, rev.Origin, rev.AfterSeq, id)
				return nil
			})
		},
	}
	t.add(cmd, "admin")
	cmd.Flags().StringVar(&server, "server", "127.0.0.1:7502", "API address of any district member")
	cmd.Flags().StringVar(&origin, "origin", "", "12-digit org code whose key is revoked")
	cmd.Flags().StringVar(&fp, "key", "", "fingerprint of the revoked key (sanzi keys)")
	cmd.Flags().StringVar(&cert, "certificate", "", "revoke the key of this certificate file (PEM) instead of --key")
	cmd.Flags().StringVar(&reason, "reason", "", "why (shown in refusals)")
	cmd.Flags().Int64Var(&fromSeq, "from-seq", -1, "highest seq of the origin still trusted under the key (default: the district's head of it now)")
	return cmd
}

func readCertFile(path string) (*x509.Certificate, error) {
	der, err := keys.ReadPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// rekeyRing signs origin's chain with a chosen key (set before the append)
// while verifying it from the key it starts with.
type rekeyRing struct {
	*keys.Ring
	origin string
	sign   ed25519.PrivateKey
}

func (r *rekeyRing) Private(origin string) (ed25519.PrivateKey, bool) {
	if origin == r.origin {
		return r.sign, true
	}
	return r.Ring.Private(origin)
}

func newVillageRekeyCmd(g *globals) *cobra.Command {
	var (
		data, tlsDir, name, org, reason string
		lost                            bool
	)
	cmd := &cobra.Command{
		Use:   "rekey --data DIR --tls-dir DIR --org CODE [--cert NAME] [--old-key-lost]",
		Short: "Change the key the node signs its chain with to its new certificate's (stop the node first)",
		Long: `Put the new certificate and key from sanzi ca issue in --tls-dir first.
rekey appends a key rotation entry to the node's chain naming the new key
and carrying the new certificate, then makes the new key the node's signing
key. The rotation is signed by the old key; when the old key is lost
(--old-key-lost, or no key file), or the district revoked it (as the
district's chain pulled here says), it is signed by the new key and the
certificate alone, issued by the district CA, vouches for it. Parents
verify the chain with the new key from the rotation on.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" || tlsDir == "" || org == "" && name == "" {
				return fmt.Errorf("--data, --tls-dir and --org (or --cert) are required")
			}
			if name == "" {
				name = org
			}
			iss, err := pki.LoadIssued(tlsDir, name)
			if err != nil {
				return err
			}
			certOrg, _, err := pki.Identity(iss.Cert)
			if err != nil {
				return err
			}
			if org != "" && certOrg != org {
				return fmt.Errorf("certificate %s names %s, not --org %s", name, certOrg, org)
			}
			org = certOrg
			pool, err := pki.LoadPool(tlsDir)
			if err != nil {
				return err
			}
			newPub := iss.Key.Public().(ed25519.PublicKey)
			keyDir := filepath.Join(data, "keys")
			ring, err := keys.Load(keyDir)
			if err != nil {
				return err
			}
			first, ok := ring.Public(org)
			if !ok {
				return fmt.Errorf("%s holds no key of %s: nothing to rotate (a new node starts with its certificate's key)", keyDir, org)
			}
			old, haveOld := ring.Private(org)
			kr := &rekeyRing{Ring: ring, origin: org, sign: old}
			if lost || !haveOld {
				kr.sign = iss.Key
			}
			l, err := ledger.Open(ledger.Config{Path: filepath.Join(data, "ledger.db"), Keys: kr, Indexer: books.Indexer(), Split: entries.Masker{}, CheckCert: pki.Rotation(pool)})
			if err != nil {
				return err
			}
			defer l.Close()
			out := cmd.OutOrStdout()
			cur, err := chainKey(l, org, first)
			if err != nil {
				return err
			}
			if !cur.Equal(newPub) {
				head := l.Head(org)
				if !kr.sign.Equal(iss.Key) {
					revs := relay.NewChainRevocations(l, org[:6]+"000000")
					if r, ok := revs.Revoked(org, keys.Fingerprint(cur)); ok && head.Seq+1 > r.AfterSeq {
						fmt.Fprintf(out, "the district revoked key %s after seq %d (%s): the rotation is signed by the new key, vouched for by its certificate\n", r.Fingerprint, r.AfterSeq, r.Entry)
						kr.sign = iss.Key
					}
				}
				payload, err := proto.Marshal(&sanziv1.KeyRotation{PublicKey: newPub, Certificate: iss.Cert.Raw, Reason: reason})
				if err != nil {
					return err
				}
				s, err := l.Append(cmd.Context(), ledger.Record{Origin: org, Author: g.localAuthor(), Type: sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, Payload: payload})
				if err != nil {
					return fmt.Errorf("append the key rotation: %w", err)
				}
				by := "the old key"
				if kr.sign.Equal(iss.Key) {
					by = "the new key and its certificate"
				}
				fmt.Fprintf(out, "%s: key rotation %s to key %s, signed by %s\n", org, s[0].ID(), keys.Fingerprint(newPub), by)
			}
			// The chain names the new key now; the key files follow. Run
			// again after a crash here: the rotation is found and not
			// repeated.
			if err := keys.WriteFirst(keyDir, org, first); err != nil {
				return err
			}
			if err := keys.Retire(keyDir, org, iss.Key); err != nil {
				return fmt.Errorf("keep the old key: %w", err)
			}
			if err := keys.Write(keyDir, org, iss.Key); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s now signs with key %s (certificate %s, valid until %s)\n", org, keys.Fingerprint(newPub), name, iss.Cert.NotAfter.Format(time.DateOnly))
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the node's data folder")
	cmd.Flags().StringVar(&tlsDir, "tls-dir", "", "folder with ca.crt and the new NAME.crt/NAME.key")
	cmd.Flags().StringVar(&org, "org", "", "the node's org code")
	cmd.Flags().StringVar(&name, "cert", "", "NAME of the new certificate in --tls-dir (default: the org code)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the key changes")
	cmd.Flags().BoolVar(&lost, "old-key-lost", false, "sign the rotation with the new key (the old key is lost or stolen)")
	return cmd
}

// chainKey is the key origin's chain is signed with at its head: first, or
// the key its last rotation named.
func chainKey(l *ledger.Ledger, origin string, first ed25519.PublicKey) (ed25519.PublicKey, error) {
	r, ok, err := l.LastRotation(origin)
	if err != nil || !ok {
		return first, err
	}
	return r.PublicKey, nil
}
