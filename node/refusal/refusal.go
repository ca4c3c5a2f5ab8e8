// Package refusal marks a parent's refusal of a push as permanent, in a way
// a child reads without parsing text: the gRPC status carries a
// google.rpc.ErrorInfo with Domain "sanzi.v1", a Reason saying why (see the
// Reason constants) and metadata "origin" and "seq" naming the chain and the
// first entry refused (plus, by reason, more keys such as "failure").
//
// A refusal with such a detail will be given again for the same chain,
// however often it is pushed, until the chain changes at the child (repaired,
// or its key replaced): the child stops pushing that chain and says so,
// rather than retrying it with backoff for ever. Any other error is a passing
// fault and is retried as before.
package refusal

import (
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain is the ErrorInfo domain of Sanzi's permanent refusals.
const Domain = "sanzi.v1"

// Reason is why a push was refused for good.
type Reason string

// The reasons a parent gives. Add one here for each new kind of permanent
// refusal (a revoked key, say); children treat any reason alike.
const (
	// ReasonChainBroken: an entry of the chain does not verify (edited
	// bytes, a bad signature, a broken link, a wrong seq). Metadata
	// "failure" holds which check (ledger.Failure).
	ReasonChainBroken Reason = "CHAIN_BROKEN"
	// ReasonKeyRevoked: the newest entry pushed is signed by a key the
	// district revoked, after its revocation point; the node must re-key
	// (sanzi village rekey). Metadata "fingerprint" names the key.
	ReasonKeyRevoked Reason = "KEY_REVOKED"
	// ReasonKeyExpired: the newest entry pushed is signed by a key whose
	// certificate had expired when the parent received it; the node must
	// re-key with a new certificate.
	ReasonKeyExpired Reason = "KEY_EXPIRED"
)

// Metadata keys of the ErrorInfo.
const (
	KeyOrigin  = "origin"
	KeySeq     = "seq"
	KeyFailure = "failure"
)

// Refusal is a permanent refusal of origin's chain from seq on.
type Refusal struct {
	Reason Reason
	Origin string
	Seq    uint64
	// Extra metadata (KeyFailure, ...); may be nil.
	Extra map[string]string
	// Message is the status message: the parent's words.
	Message string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("refused permanently by the parent (%s): %s", r.Reason, r.Message)
}

// Status encodes r as a gRPC status error of code.
func (r *Refusal) Status(code codes.Code) error {
	md := map[string]string{KeyOrigin: r.Origin, KeySeq: strconv.FormatUint(r.Seq, 10)}
	for k, v := range r.Extra {
		md[k] = v
	}
	st, err := status.New(code, r.Message).WithDetails(&errdetails.ErrorInfo{Reason: string(r.Reason), Domain: Domain, Metadata: md})
	if err != nil {
		return status.Error(code, r.Message)
	}
	return st.Err()
}

// From finds a permanent refusal in err (a gRPC status, possibly wrapped);
// nil when err is a passing fault.
func From(err error) *Refusal {
	var se interface{ GRPCStatus() *status.Status }
	if err == nil || !errors.As(err, &se) {
		return nil
	}
	st := se.GRPCStatus()
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != Domain || info.GetReason() == "" {
			continue
		}
		r := &Refusal{Reason: Reason(info.GetReason()), Origin: info.GetMetadata()[KeyOrigin], Message: st.Message(), Extra: map[string]string{}}
		r.Seq, _ = strconv.ParseUint(info.GetMetadata()[KeySeq], 10, 64)
		for k, v := range info.GetMetadata() {
			if k != KeyOrigin && k != KeySeq {
				r.Extra[k] = v
			}
		}
		return r
	}
	return nil
}
