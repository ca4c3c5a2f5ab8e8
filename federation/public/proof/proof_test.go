package proof

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/federation/public/publictest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// tamper serves the site, letting edit change a JSON answer by path.
func tamper(site http.Handler, edit func(path string, body []byte) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		site.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if edit != nil && rec.Code == 200 {
			body = edit(r.URL.Path, body)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// TestVerify checks a village's disclosures served by a real site over a
// real FSM state, then the same with one thing changed in what the site
// serves: each must fail with the reason.
func TestVerify(t *testing.T) {
	w := publictest.New(t)
	bank, cash := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	exp, inc := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	w.Tx(exp, 1_234_500, bank, "劳务支出", "劳务费", publictest.Person())
	w.Tx(inc, 500_000, cash, "经营收入", "租金", publictest.Company())
	w.Disclose("2026-01")
	w.Sign()
	w.Tx(exp, 20_000, cash, "管理费用", "办公用品", publictest.Company())
	w.Disclose("2026-02")
	w.Sign()
	w.Tx(inc, 1_000, cash, "其他收入", "杂项", publictest.Person()) // after the last disclosure
	w.Sign()

	site, err := public.New(public.Config{District: publictest.District, PublicKey: w.Public(), State: w.F, Proofs: true, Logger: publictest.Quiet,
		Limits: public.Limits{PerSecond: 1000, Burst: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(h http.Handler, cfg Config) (string, error) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		var out bytes.Buffer
		if cfg.URL == "" {
			cfg.URL = srv.URL + "/public/villages/" + publictest.Village
		} else {
			cfg.URL = srv.URL + cfg.URL
		}
		cfg.Out = &out
		err := Run(context.Background(), cfg)
		return out.String(), err
	}
	fp := checkpoint.Fingerprint(w.Public())

	t.Run("passes", func(t *testing.T) {
		out, err := run(site, Config{Fingerprint: fp, All: true})
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"matches the one given", "2026-01", "2026-02", "income 5000.00 yuan", "expense 12345.00 yuan", "opening balance zero",
			"opening balance equals 2026-01's closing balance, checked above", "no two contradict", "verify-public: OK: 2 disclosure(s)"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report lacks %q:\n%s", want, out)
			}
		}
		t.Logf("report:\n%s", out)
	})
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	for _, tc := range []struct {
		name string
		cfg  Config
		edit func(path string, body []byte) []byte
		want string
	}{
		{"another fingerprint", Config{Fingerprint: checkpoint.Fingerprint(other.Public().(ed25519.PublicKey))}, nil, "this is not the district's key"},
		{"a figure altered on the page", Config{}, func(path string, body []byte) []byte {
			if !strings.HasSuffix(path, "/disclosures/2026-02") {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				d := m["disclosure"].(map[string]any)
				d["expense"].([]any)[0].(map[string]any)["amountFen"] = 10_000
			})
		}, "expense[0].amountFen: the page says 10000, the chain says 20000"},
		{"an itemized amount altered", Config{Period: "2026-01"}, func(path string, body []byte) []byte {
			if !strings.HasSuffix(path, "/disclosures/2026-01") {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				m["disclosure"].(map[string]any)["transactions"].([]any)[0].(map[string]any)["amountFen"] = 1_000_000
			})
		}, "transactions[0].amountFen: the page says 1000000, the chain says 1234500 (entry 350505100201-1)"},
		{"a masked name shown whole", Config{Period: "2026-01"}, func(path string, body []byte) []byte {
			if !strings.HasSuffix(path, "/disclosures/2026-01") {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				m["disclosure"].(map[string]any)["transactions"].([]any)[0].(map[string]any)["counterparty"].(map[string]any)["name"] = "张三"
			})
		}, `the page says "张三", the chain says "张*"`},
		{"an entry hash changed", Config{}, func(path string, body []byte) []byte {
			if !strings.Contains(path, "/chains/") {
				return body
			}
			return publictest.EditEntry(t, body, 0, func(e *sanziv1.Entry) { e.Hash[5] ^= 1 })
		}, "does not hash to its hash"},
		{"one byte of an entry changed", Config{}, func(path string, body []byte) []byte {
			if !strings.Contains(path, "/chains/") {
				return body
			}
			return publictest.EditEntry(t, body, 0, func(e *sanziv1.Entry) { e.Body[len(e.Body)-3] ^= 1 })
		}, "the entry was altered"},
		{"a forged checkpoint", Config{}, func(path string, body []byte) []byte {
			if !strings.HasPrefix(path, "/public/v1/checkpoints/") {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				m["signature"] = base64.StdEncoding.EncodeToString(ed25519.Sign(other, []byte(m["statement"].(string))))
			})
		}, "it was not signed by the district"},
		{"a contradicting checkpoint", Config{}, func(path string, body []byte) []byte {
			if path != "/public/v1/checkpoints" {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				cps := m["checkpoints"].([]any)
				last := cps[len(cps)-1].(map[string]any)
				st, err := checkpoint.Parse([]byte(last["statement"].(string)))
				if err != nil {
					t.Fatal(err)
				}
				// The same heads as the newest, one of them with another
				// hash at the same seq, signed with the district's key.
				st.Number, st.Prev = st.Number+1, st.Sum()
				st.Heads[0].Hash[0] ^= 1
				s := checkpoint.Sign(st, w.Key)
				cps = append(cps, map[string]any{"number": st.Number, "statement": string(s.Text), "signature": base64.StdEncoding.EncodeToString(s.Signature)})
				m["checkpoints"] = cps
			})
		}, "contradict"},
		{"a disclosure the village did not approve", Config{}, func(path string, body []byte) []byte {
			if !strings.HasSuffix(path, "/disclosures/2026-02") {
				return body
			}
			return publictest.EditJSON(t, body, func(m map[string]any) {
				m["disclosure"].(map[string]any)["procedure"].(map[string]any)["id"] = publictest.Village + "-4"
			})
		}, "holds no approved disclosure procedure " + publictest.Village + "-4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tamper(site, tc.edit), tc.cfg)
			if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want a failure saying %q\n%s", err, tc.want, out)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("no proofs published", func(t *testing.T) {
		off, _ := public.New(public.Config{District: publictest.District, PublicKey: w.Public(), State: w.F, Logger: publictest.Quiet})
		if _, err := run(off, Config{}); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "does not serve the chain segment") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("kept checkpoints", func(t *testing.T) {
		dir := t.TempDir()
		if out, err := run(site, Config{Keep: dir}); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// The district later serves a history where the newest checkpoint
		// says otherwise than one kept: caught from the kept copy alone.
		latest, _ := w.F.LatestCheckpoint()
		forged := *latest.Statement
		forged.Heads = append([]checkpoint.Head(nil), forged.Heads...)
		forged.Heads[0].Hash[1] ^= 1
		s := checkpoint.Sign(&forged, w.Key)
		rewrite := tamper(site, func(path string, body []byte) []byte {
			if path == "/public/v1/checkpoints/latest" {
				return []byte(`{"number":` + strings.TrimSpace(jsonNumber(forged.Number)) + `,"statement":` + jsonString(string(s.Text)) + `,"signature":"` + base64.StdEncoding.EncodeToString(s.Signature) + `"}`)
			}
			return body
		})
		if _, err := run(rewrite, Config{Keep: dir, Recent: 1}); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "two different checkpoints") && !strings.Contains(err.Error(), "contradict") {
			t.Fatalf("%v", err)
		}
	})
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }
func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestVerifyUnmaskedEntry: a month whose entries include one sealed before
// personal data was split out of entries' hashes cannot be proven (the site
// does not serve that entry); verify-public fails and says which entry and
// why, while the month after, all split, verifies.
func TestVerifyUnmaskedEntry(t *testing.T) {
	w := publictest.New(t)
	w.AcrossTheSplit()
	site, err := public.New(public.Config{District: publictest.District, PublicKey: w.Public(), State: w.F, Proofs: true, Logger: publictest.Quiet,
		Limits: public.Limits{PerSecond: 1000, Burst: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	defer srv.Close()
	for _, tc := range []struct {
		period string
		want   string // "" passes
	}{
		{"2026-01", publictest.Village + "-1 was recorded before personal data was sealed apart"},
		{"2026-02", ""},
	} {
		t.Run(tc.period, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), Config{URL: srv.URL + "/public/villages/" + publictest.Village + "/" + tc.period, Out: &out})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("%v\n%s", err, out.String())
			case tc.want != "" && (!errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%v, want a failure saying %q", err, tc.want)
			}
		})
	}
}
