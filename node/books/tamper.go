package books

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/sanzi/sanzi/node/ledger"
)

func tamperKey(origin string, seq uint64, sentHash string) string {
	return fmt.Sprintf("TAMPER/%s/%d/%s", origin, seq, sentHash)
}

// failureWords says in the alert's reason which check a refused entry
// failed.
var failureWords = map[ledger.Failure]string{
	ledger.FailureHash:      "内容与其哈希不符（记账内容被改动）",
	ledger.FailureSignature: "签名无法用该村的密钥验证",
	ledger.FailureLink:      "与上一条记账的哈希链接断开",
	ledger.FailureSeq:       "序号与链中位置不符",
	ledger.FailurePrivate:   "个人信息部分缺失、与其摘要不符或与公开部分不一致",
}

// RecordRefusedEntry records, once per distinct pushed bytes, a critical
// TAMPER alert in the node's own chain about an entry of a village's chain
// that failed verification when pushed (issue 18): the entry as evidence
// (base64 of the exact bytes), which check failed and the verifier's words.
// A push of the same bytes again is not recorded again; it returns nil.
// The alert goes to the notifier like every alert, and up with the chain.
func (b *Books) RecordRefusedEntry(ctx context.Context, ve *ledger.VerifyError, sentHash string, raw []byte) (*ledger.Stored, error) {
	key := tamperKey(ve.Origin, ve.Seq, sentHash)
	if b.sup.Raised(ctx, key, false) {
		return nil, nil
	}
	words := failureWords[ve.Failure]
	if words == "" {
		words = ve.Problem
	}
	st, err := b.recordTamper(ctx, ve.Origin, ve.Seq, fmt.Sprintf("篡改：%s 第 %d 条记账%s，已拒收，请核查", ve.Origin, ve.Seq, words),
		map[string]string{"village": ve.Origin, "seq": fmt.Sprint(ve.Seq), "failure": string(ve.Failure), "problem": ve.Problem,
			"sent_hash": sentHash, "entry_base64": base64.StdEncoding.EncodeToString(raw)})
	if err != nil {
		return nil, err
	}
	b.sup.Raised(ctx, key, true)
	return st, nil
}
