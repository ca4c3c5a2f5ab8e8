package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAssetDisposalVoucherEndToEnd: `sanzi asset dispose --preview` shows
// the voucher a transfer for a price would book (the price into 库存现金
// when paid in cash, the asset out of 固定资产 at its original value, the
// gain to 其他收入) and records nothing; recorded, the disposal books that
// voucher itself. (A sale would need an appraisal first: NO-APPRAISAL.)
func TestAssetDisposalVoucherEndToEnd(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"))
	date := time.Now().AddDate(0, -1, 0).Format(time.DateOnly)
	var asset recorded
	if code, raw := n.post("/v1/assets", map[string]any{"asset": map[string]any{"org": org, "assetCode": "ZC-9", "name": "旧拖拉机",
		"category": "机器设备", "originalValueFen": 80000, "acquiredDate": "2015-06-30"}}, &asset); code != 200 {
		t.Fatalf("register: %d %s", code, raw)
	}
	args := []string{"asset", "dispose", asset.Entry.ID, "--server", n.grpc, "--method", "transfer", "--price", "950", "--payment-method", "cash",
		"--counterparty", "张三", "--date", date, "--reason", "闲置"}
	out, exit := run(t, append(args, "--preview")...)
	if exit != 0 || !strings.Contains(out, "记字第1号") || !regexp.MustCompile(`101\s+950\.00`).MatchString(out) ||
		!regexp.MustCompile(`151\s+800\.00`).MatchString(out) || !regexp.MustCompile(`522\s+150\.00`).MatchString(out) {
		t.Fatalf("dispose --preview: exit %d\n%s", exit, out)
	}
	out, exit = run(t, args...)
	if exit != 0 {
		t.Fatalf("dispose: exit %d\n%s", exit, out)
	}
	var list struct {
		Vouchers []struct {
			Voucher struct {
				Number int `json:"number"`
				Lines  []struct {
					Account string `json:"account"`
				} `json:"lines"`
			} `json:"voucher"`
		} `json:"vouchers"`
	}
	if code, raw := n.call("GET", "/v1/vouchers?org="+org, "", nil, &list); code != 200 || len(list.Vouchers) != 1 ||
		list.Vouchers[0].Voucher.Number != 1 || len(list.Vouchers[0].Voucher.Lines) != 3 {
		t.Fatalf("vouchers after the disposal: %d %s", code, raw)
	}
}
