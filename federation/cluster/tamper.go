package cluster

import (
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// tamperError is a pushed entry that does not verify: refused for good,
// and recorded through Raft like a fork (issue 18) with the entry as
// evidence. It unwraps to ErrInvalid.
type tamperError struct {
	rec *sanziv1.ForkRecord
	ve  *ledger.VerifyError
}

func (e *tamperError) Error() string {
	return fmt.Sprintf("%v: entry does not verify: %v", ErrInvalid, e.ve)
}

func (e *tamperError) Unwrap() error { return ErrInvalid }

// refused turns a verifier's error on raw (origin's entry) into a
// tamperError carrying raw, keyed by the SHA-256 of the pushed bytes (the
// stated hash is what may have been forged), or into a plain ErrInvalid.
func (n *Node) refused(raw []byte, err error) error {
	ve, kind, ok := relay.Tampered(err)
	if !ok {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	n.met.tampers.WithLabelValues(string(ve.Failure)).Inc()
	n.log.Error("TAMPER refused: a pushed entry does not verify", "origin", ve.Origin, "seq", ve.Seq, "failure", ve.Failure, "problem", ve.Problem)
	return &tamperError{ve: ve, rec: &sanziv1.ForkRecord{Origin: ve.Origin, Seq: ve.Seq, SentHash: relay.SentHash(raw),
		Kind: kind, Problem: ve.Problem, Entry: raw}}
}

// tamperStatus is the gRPC status of a tamperError: InvalidArgument with
// the permanent-refusal detail.
func tamperStatus(e *tamperError) error {
	return relay.ChainBroken(e.ve, codes.InvalidArgument, e.Error())
}

// TODO(issue 18): the district sends no notification of a TAMPER finding
// (nor of a fork): it has no notifier of its own yet; a town's finding is
// notified through the town's alert notifier like its other red alerts.
