package public

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/federation/public/publictest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestSiteShowsWhatWasApproved: a month whose approvals name the digest of
// the content the chain gives is shown saying so; one approved before
// decisions named a digest is shown saying it cannot be checked against
// the approval; one whose approval names other content is refused (409)
// naming the decision and both digests, and the village page shows no
// figures of it.
func TestSiteShowsWhatWasApproved(t *testing.T) {
	w := publictest.New(t)
	bank := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	exp := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	w.Tx(exp, 1_000_00, bank, "劳务支出", "一月劳务", publictest.Person())
	w.Disclose("2026-01")
	w.Tx(exp, 2_000_00, bank, "劳务支出", "二月劳务", publictest.Person())
	feb := w.DiscloseNaming("2026-02", "")
	w.Tx(exp, 3_000_00, bank, "劳务支出", "三月劳务", publictest.Person())
	bad := strings.Repeat("ab", 32)
	w.DiscloseNaming("2026-03", bad)
	w.Sign()

	site, err := New(Config{District: district, PublicKey: w.Public(), State: w.F, Proofs: true, Logger: quiet, Limits: Limits{PerSecond: 1000, Burst: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	defer srv.Close()
	for _, c := range []struct {
		name, path string
		code       int
		want, not  []string
	}{
		{"old month json", "/public/v1/villages/" + village + "/disclosures/2026-01", 200, []string{`"contentSha256": "`}, []string{`"contentSha256": ""`}},
		{"old month page", "/public/villages/" + village + "/2026-01", 200, []string{"一月劳务", "无法与当时批准的内容逐字核对"}, []string{"即村监委会批准的内容"}},
		{"approved month json", "/public/v1/villages/" + village + "/disclosures/2026-02", 200, []string{`"contentSha256": "` + feb + `"`, `"itemizeFromFen": 100000`}, nil},
		{"approved month page", "/public/villages/" + village + "/2026-02", 200, []string{"二月劳务", "即村监委会批准的内容", feb[:8]}, []string{"逐字核对"}},
		{"unapproved month json", "/public/v1/villages/" + village + "/disclosures/2026-03", 409,
			[]string{"not what the village's committee approved", "approved content with sha256 " + bad, "the chain gives "}, []string{"三月劳务"}},
		{"unapproved month page", "/public/villages/" + village + "/2026-03", 409, []string{"与村监委会批准的内容不一致", bad}, []string{"三月劳务"}},
		{"village page", "/public/villages/" + village, 200, []string{"最近一期的公开内容与村监委会批准的不一致", bad}, []string{"三月劳务"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := get(t, srv, "GET", c.path, nil)
			if code != c.code {
				t.Fatalf("%d, want %d: %s", code, c.code, body)
			}
			for _, s := range c.want {
				if !strings.Contains(string(body), s) {
					t.Errorf("lacks %q: %s", s, body)
				}
			}
			for _, s := range c.not {
				if strings.Contains(string(body), s) {
					t.Errorf("shows %q", s)
				}
			}
		})
	}
}
