package cluster

import (
	"context"

	"github.com/sanzi/sanzi/federation/checkpoint"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

var _ checkpoint.Proposer = (*Node)(nil)

// ProposeCheckpoint records a signed checkpoint through Raft (leader only)
// and returns once it is applied; the FSM's refusal (fsm.ErrCheckpoint)
// comes back as the error. It returns when ctx ends even if raft has not
// answered: a signer stopped by a loss of leadership must not wait.
func (n *Node) ProposeCheckpoint(ctx context.Context, c *clusterv1.Checkpoint) error {
	_, err := n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_CHECKPOINT, c)
	return err
}
