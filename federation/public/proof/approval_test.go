package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/federation/public/publictest"
	"github.com/sanzi/sanzi/node/disclosed"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestVerifyApproval: verify-public passes a month whose signed approvals
// name the digest of the content it recomputes from the chain, and fails
// one whose approval names other content, naming the decision and both
// digests: refused by the honest site (whose refusal carries the proof,
// which verify-public checks and recomputes), and refused by verify-public
// itself when a site serves the month anyway.
func TestVerifyApproval(t *testing.T) {
	w := publictest.New(t)
	bank := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	exp := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	w.Tx(exp, 200_000, bank, "劳务支出", "二月劳务", publictest.Person())
	feb := w.DiscloseNaming("2026-02", "")
	w.Tx(exp, 300_000, bank, "劳务支出", "三月劳务", publictest.Person())
	bad := strings.Repeat("ab", 32)
	w.DiscloseNaming("2026-03", bad)
	w.Sign()

	site, err := public.New(public.Config{District: publictest.District, PublicKey: w.Public(), State: w.F, Proofs: true, Logger: publictest.Quiet,
		Limits: public.Limits{PerSecond: 1000, Burst: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	// lying serves March although the committee did not approve it: what
	// the honest site would serve but for its check.
	all, err := disclosed.Compute(w.F, publictest.Village, 1, disclosed.Options{ItemizeFromFen: publictest.ItemizeFromFen})
	if err != nil {
		t.Fatal(err)
	}
	mar := all[slices.IndexFunc(all, func(d *disclosed.Disclosure) bool { return d.Period == "2026-03" })]
	n, head, err := w.F.CheckpointCovering(publictest.Village, mar.LastSeq)
	if err != nil || n == 0 {
		t.Fatalf("checkpoint covering march: %d %v", n, err)
	}
	marPath := "/public/v1/villages/" + publictest.Village + "/disclosures/2026-03"
	lying := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != marPath {
			site.ServeHTTP(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(public.Published{Disclosure: mar, Proof: public.Proof{Checkpoint: n, CheckpointURL: fmt.Sprintf("/public/v1/checkpoints/%d", n),
			FromSeq: mar.FirstSeq, ToSeq: head.Seq, Segment: fmt.Sprintf("/public/v1/chains/%s/entries?from=%d&to=%d", publictest.Village, mar.FirstSeq, head.Seq)}})
	})
	for _, c := range []struct {
		name   string
		h      http.Handler
		period string
		want   []string // in the output when it passes, else in the error
		fails  bool
		is     error // the error is this one (nil: any, the site's refusal)
	}{
		{"approved month", site, "2026-02", []string{"content sha256 " + feb + ": the one the committee's signed decisions approved"}, false, nil},
		{"refused by the site, its proof verifying", site, "2026-03", []string{"the site refuses it and its signed chain segment verifies", "approved content with sha256 " + bad}, true, ErrFailed},
		{"refused by the site, recomputed after the month before", site, "", []string{"2026-03: the disclosure is not what the village's committee approved", "approved content with sha256 " + bad,
			"the chain gives " + mar.ContentSha256}, true, ErrFailed},
		{"served anyway", lying, "2026-03", []string{"approved content with sha256 " + bad, "the chain gives " + mar.ContentSha256, "decision " + mar.Approvals[0].Ref.ID}, true, ErrFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			var out bytes.Buffer
			cfg := Config{URL: srv.URL + "/public/villages/" + publictest.Village + "/" + c.period, Out: &out}
			if c.period == "" { // every month, oldest first
				cfg.URL, cfg.All = srv.URL+"/public/villages/"+publictest.Village, true
			}
			err := Run(context.Background(), cfg)
			got := out.String()
			if c.fails {
				if err == nil || c.is != nil && !errors.Is(err, c.is) {
					t.Fatalf("%v, want a failure (%v)\n%s", err, c.is, got)
				}
				got = err.Error()
			} else if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			for _, s := range c.want {
				if !strings.Contains(got, s) {
					t.Errorf("lacks %q:\n%s", s, got)
				}
			}
		})
	}
}
