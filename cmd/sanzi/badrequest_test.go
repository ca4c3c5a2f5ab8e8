package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		FieldViolations []struct {
			Field string `json:"field"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

func (e apiError) fields() []string {
	var out []string
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			out = append(out, v.Field)
		}
	}
	return out
}

// TestBadRequests sends requests that must all be refused, each with the
// right HTTP status, gRPC code and field, and checks that the ledger did not
// change at all.
func TestBadRequests(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"), "--max-attachment", "4096")
	// What the bad requests refer to.
	receipt := []byte("receipt for the bad-request test")
	sum := sha256.Sum256(receipt)
	hash := hex.EncodeToString(sum[:])
	if code, raw := n.call("POST", "/v1/attachments?fileName=r.txt", "application/octet-stream", receipt, nil); code != 200 {
		t.Fatalf("upload: %d %s", code, raw)
	}
	var first recorded
	if code, raw := n.post("/v1/transactions", set(tx(0), "transaction.attachments", []string{hash}), &first); code != 200 {
		t.Fatalf("record: %d %s", code, raw)
	}
	var reversal recorded
	if code, raw := n.post("/v1/reversals", map[string]any{"reversal": map[string]any{"org": org, "targetId": first.Entry.ID, "reason": "wrong amount"}}, &reversal); code != 200 {
		t.Fatalf("reverse: %d %s", code, raw)
	}
	asset := map[string]any{"asset": map[string]any{"org": org, "assetCode": "ZC-1", "name": "村部办公楼", "originalValueFen": 100000, "acquiredDate": "2019-06-30"}}
	var assetRec recorded
	if code, raw := n.post("/v1/assets", asset, &assetRec); code != 200 {
		t.Fatalf("asset: %d %s", code, raw)
	}
	contract := func() map[string]any {
		return map[string]any{"contract": map[string]any{
			"org": org, "kind": "CONTRACT_KIND_LEASE", "contractNumber": "HT-1",
			"counterparty": map[string]any{"name": "林某某", "idNumber": "11010519491231002X"},
			"object":       map[string]any{"kind": "OBJECT_KIND_LAND", "objectId": "DK-1", "areaMu": 10},
			"termStart":    "2026-01-01", "termEnd": "2030-12-31", "annualAmountFen": 500000,
			"awardMethod": "AWARD_METHOD_TENDER", "signedDate": "2025-12-20",
		}}
	}
	before := n.head()

	body := func(v any) []byte {
		b, _ := json.Marshal(v)
		return b
	}
	big := bytes.Repeat([]byte("x"), 5000)
	for _, tc := range []struct {
		name     string
		method   string
		path     string
		ctype    string
		body     []byte
		status   int
		code     int // gRPC code
		field    string
		inMsgToo bool // field named in the message only (protojson errors)
	}{
		// The author is the signed-in account: naming another is refused
		// (it used to be free text, required).
		{"another author", "POST", "/v1/transactions", "", body(set(tx(1), "author", "someone.else")), 403, 7, "signed-in account", true},
		{"missing transaction", "POST", "/v1/transactions", "", body(map[string]any{}), 400, 3, "transaction", false},
		{"missing org", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.org", nil)), 400, 3, "transaction.org", false},
		// A malformed code is a bad request naming the field; a well-formed
		// one outside the signed-in account's scope is refused (issue 12).
		{"org too short", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.org", "35050510020")), 400, 3, "transaction.org", false},
		{"foreign org", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.org", "350505100202")), 403, 7, "may not act on 350505100202", true},
		{"org bad province", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.org", "990505100201")), 400, 3, "transaction.org", false},
		{"missing kind", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.kind", nil)), 400, 3, "transaction.kind", false},
		{"unknown enum number", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.kind", 99)), 400, 3, "transaction.kind", false},
		{"unknown enum name", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.paymentMethod", "PAYMENT_METHOD_BITCOIN")), 400, 3, "transaction.paymentMethod", false},
		{"negative amount", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.amountFen", -500)), 400, 3, "transaction.amountFen", false},
		{"zero amount", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.amountFen", 0)), 400, 3, "transaction.amountFen", false},
		{"absurd amount", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.amountFen", int64(1e15))), 400, 3, "transaction.amountFen", false},
		{"missing payment method", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.paymentMethod", nil)), 400, 3, "transaction.paymentMethod", false},
		{"missing counterparty", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.counterparty", nil)), 400, 3, "transaction.counterparty.name", false},
		{"resident ID check digit", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.counterparty.idNumber", "110105194912310021")), 400, 3, "transaction.counterparty.idNumber", false},
		{"credit code check char", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.counterparty.idNumber", "91350100M000100Y44")), 400, 3, "transaction.counterparty.idNumber", false},
		{"bank account letters", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.counterparty.bankAccount", "62220202ABC")), 400, 3, "transaction.counterparty.bankAccount", false},
		{"date far in the future", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.businessDate", "2099-01-01")), 400, 3, "transaction.businessDate", false},
		{"date impossible", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.businessDate", "2026-02-30")), 400, 3, "transaction.businessDate", false},
		{"date before 2000", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.businessDate", "1999-12-31")), 400, 3, "transaction.businessDate", false},
		{"missing summary", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.summary", "  ")), 400, 3, "transaction.summary", false},
		{"invoice code without number", "POST", "/v1/transactions", "", body(set(set(tx(1), "transaction.invoiceNumber", nil), "transaction.invoiceCode", "035001900111")), 400, 3, "transaction.invoiceNumber", false},
		{"cash over the limit (rule CASH-PAY)", "POST", "/v1/transactions", "", body(set(set(tx(1), "transaction.paymentMethod", "PAYMENT_METHOD_CASH"), "transaction.amountFen", 100001)), 400, 9, "CASH-PAY", true},
		{"expense without invoice (rule NO-INVOICE)", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.invoiceNumber", nil)), 400, 9, "NO-INVOICE", true},
		{"lease over 20 years (rule LEASE-20Y)", "POST", "/v1/contracts", "", body(set(contract(), "contract.termEnd", "2046-01-01")), 400, 9, "LEASE-20Y", true},
		{"attachment not a hash", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.attachments", []string{"receipt.jpg"})), 400, 3, "transaction.attachments[0]", false},
		{"attachment not uploaded", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.attachments", []string{strings.Repeat("ab", 32)})), 400, 3, "transaction.attachments[0]", false},
		{"malformed JSON", "POST", "/v1/transactions", "application/json", []byte(`{"transaction": {`), 400, 3, "transaction", false},
		{"unknown JSON field", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.amountFne", 5)), 400, 3, "transaction.amountFne", false},
		{"amount as text", "POST", "/v1/transactions", "", body(set(tx(1), "transaction.amountFen", "12.5 yuan")), 400, 3, "transaction.amountFen", false},
		{"oversized attachment", "POST", "/v1/attachments", "application/octet-stream", big, 413, 3, "content", false},
		{"empty attachment", "POST", "/v1/attachments", "application/octet-stream", nil, 400, 3, "content", false},
		{"attachment hash mismatch", "POST", "/v1/attachments?expectedSha256=" + strings.Repeat("0", 64), "application/octet-stream", []byte("abc"), 400, 3, "expectedSha256", false},
		{"delete locked attachment", "DELETE", "/v1/attachments/" + hash, "", nil, 400, 9, "sha256", false},
		{"contract ends before it starts", "POST", "/v1/contracts", "", body(set(contract(), "contract.termEnd", "2025-06-30")), 400, 3, "contract.termEnd", false},
		{"land contract without area", "POST", "/v1/contracts", "", body(set(contract(), "contract.object.areaMu", nil)), 400, 3, "contract.object.areaMu", false},
		{"payment to unknown contract", "POST", "/v1/contracts/" + org + "-999/payments", "", body(map[string]any{"payment": map[string]any{"org": org, "amountFen": 100, "paymentMethod": "PAYMENT_METHOD_CASH", "businessDate": today()}}), 400, 3, "payment.contractId", false},
		{"payment to a transaction", "POST", "/v1/contracts/" + first.Entry.ID + "/payments", "", body(map[string]any{"payment": map[string]any{"org": org, "amountFen": 100, "paymentMethod": "PAYMENT_METHOD_CASH", "businessDate": today()}}), 400, 3, "payment.contractId", false},
		{"duplicate asset code", "POST", "/v1/assets", "", body(asset), 400, 9, "asset.assetCode", false},
		{"appraisal without report", "POST", "/v1/assets/" + assetRec.Entry.ID + "/appraisals", "", body(map[string]any{"appraisal": map[string]any{"org": org, "appraisedValueFen": 100, "appraiser": "某所", "appraisalDate": today()}}), 400, 3, "appraisal.reportAttachment", false},
		{"sale without price", "POST", "/v1/assets/" + assetRec.Entry.ID + "/disposals", "", body(map[string]any{"disposal": map[string]any{"org": org, "method": "DISPOSAL_METHOD_SALE", "counterparty": map[string]any{"name": "买方"}, "disposalDate": today()}}), 400, 3, "disposal.priceFen", false},
		{"reverse twice", "POST", "/v1/reversals", "", body(map[string]any{"reversal": map[string]any{"org": org, "targetId": first.Entry.ID, "reason": "again"}}), 400, 9, "reversal.targetId", false},
		{"reverse a reversal", "POST", "/v1/reversals", "", body(map[string]any{"reversal": map[string]any{"org": org, "targetId": reversal.Entry.ID, "reason": "undo"}}), 400, 3, "reversal.targetId", false},
		{"reverse without reason", "POST", "/v1/reversals", "", body(map[string]any{"reversal": map[string]any{"org": org, "targetId": assetRec.Entry.ID}}), 400, 3, "reversal.reason", false},
		{"bad entry id", "GET", "/v1/transactions/not-an-id", "", nil, 400, 3, "id", false},
		{"unknown entry id", "GET", "/v1/transactions/" + org + "-9999", "", nil, 404, 5, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			if ctype == "" && tc.body != nil {
				ctype = "application/json"
			}
			status, raw := n.call(tc.method, tc.path, ctype, tc.body, nil)
			var e apiError
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", raw)
			}
			if status != tc.status || e.Code != tc.code {
				t.Fatalf("got HTTP %d code %d, want HTTP %d code %d: %s", status, e.Code, tc.status, tc.code, raw)
			}
			if tc.field == "" {
				return
			}
			if tc.inMsgToo {
				if !strings.Contains(e.Message, tc.field) {
					t.Fatalf("message %q does not name %s", e.Message, tc.field)
				}
				return
			}
			found := false
			for _, f := range e.fields() {
				found = found || f == tc.field
			}
			if !found || !strings.Contains(e.Message, tc.field) {
				t.Fatalf("field %s not named: fields %v, message %q", tc.field, e.fields(), e.Message)
			}
		})
	}
	if after := n.head(); after != before {
		t.Fatalf("ledger changed by refused requests: head %+v -> %+v", before, after)
	}
	// The locked attachment is still there and intact.
	if code, raw := n.call("GET", "/v1/attachments/"+hash, "", nil, nil); code != 200 || !strings.Contains(string(raw), first.Entry.ID) {
		t.Fatalf("locked attachment: %d %s", code, raw)
	}
	// A rule that only warns lets the entry through and says why.
	var warned struct {
		Entry entryMeta `json:"entry"`
		Hits  []struct {
			Code     string            `json:"code"`
			Severity string            `json:"severity"`
			Reason   string            `json:"reason"`
			Evidence map[string]string `json:"evidence"`
		} `json:"hits"`
	}
	cash := set(set(tx(2), "transaction.amountFen", 100000), "transaction.paymentMethod", "PAYMENT_METHOD_CASH") // exactly the limit: allowed
	if code, raw := n.post("/v1/transactions", cash, &warned); code != 200 || len(warned.Hits) != 0 {
		t.Fatalf("cash at exactly the limit: %d %s", code, raw)
	}
	person := set(set(tx(3), "transaction.amountFen", 200000), "transaction.counterparty", map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"})
	if code, raw := n.post("/v1/transactions", person, &warned); code != 200 || len(warned.Hits) != 1 || warned.Hits[0].Code != "PRIVATE-ACCT" || warned.Hits[0].Evidence["amount_fen"] != "200000" {
		t.Fatalf("payment to a person's account: %d %s", code, raw)
	}
}
