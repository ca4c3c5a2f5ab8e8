package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// tamperKinds maps the verifier's failures to the kinds a TAMPER finding
// names; a failure not listed is a malformed push, not evidence.
var tamperKinds = map[ledger.Failure]sanziv1.TamperKind{
	ledger.FailureHash:      sanziv1.TamperKind_TAMPER_KIND_HASH,
	ledger.FailureSignature: sanziv1.TamperKind_TAMPER_KIND_SIGNATURE,
	ledger.FailureLink:      sanziv1.TamperKind_TAMPER_KIND_LINK,
	ledger.FailureSeq:       sanziv1.TamperKind_TAMPER_KIND_SEQ,
	ledger.FailureRotation:  sanziv1.TamperKind_TAMPER_KIND_SIGNATURE, // a key change not signed or certified as it must be
	// The private part (personal data, outside the hash) is missing, does
	// not match the digest the signed body commits to, or is not what the
	// signed public payload masks: content that is not what was sealed.
	ledger.FailurePrivate: sanziv1.TamperKind_TAMPER_KIND_HASH,
}

// Tampered says whether err is a pushed entry failing verification in a
// way that is evidence of an edit at the source (issue 18), and which.
func Tampered(err error) (*ledger.VerifyError, sanziv1.TamperKind, bool) {
	var ve *ledger.VerifyError
	if !errors.As(err, &ve) {
		return nil, 0, false
	}
	k, ok := tamperKinds[ve.Failure]
	return ve, k, ok
}

// SentHash keys a finding about raw: the SHA-256 of the pushed bytes, since
// the entry's stated hash is what may have been forged.
func SentHash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// ChainBroken is the permanent refusal of a chain whose entry failed ve.
func ChainBroken(ve *ledger.VerifyError, code codes.Code, message string) error {
	return (&refusal.Refusal{Reason: refusal.ReasonChainBroken, Origin: ve.Origin, Seq: ve.Seq, Message: message,
		Extra: map[string]string{refusal.KeyFailure: string(ve.Failure)}}).Status(code)
}
