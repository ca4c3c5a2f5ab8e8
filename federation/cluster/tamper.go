package cluster

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/relay"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
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

// RecordDelivery records one finished delivery of the district's
// notification of a TAMPER finding through Raft (leader only: the member's
// notifier runs on the leader), so every member knows who was told.
func (n *Node) RecordDelivery(ctx context.Context, d *sanziv1.NotificationDelivery) error {
	_, err := n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_RECORD_DELIVERY, d)
	return err
}
