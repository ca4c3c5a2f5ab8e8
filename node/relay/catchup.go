package relay

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"google.golang.org/grpc"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// CatchUp brings back the entries of the node's own chain origin that the
// parent holds beyond this node's head, verified against pub and stored
// verbatim: a node restored from a backup is behind its parent's copy of
// its chain, and recording before catching up would write new entries at
// seqs the parent already holds (a fork). It returns how many entries it
// stored. A parent copy that does not follow the local head is an error
// naming `sanzi repair --from-parent`: the chains have parted. pub is the
// key the chain starts with (keys.Ring.Public); the entries after the
// local head are verified with the key the last rotation held here names,
// if the chain rotated before the backup was taken.
func CatchUp(ctx context.Context, client sanziv1.SyncServiceClient, l *ledger.Ledger, origin string, pub ed25519.PublicKey) (int, error) {
	r, rotated, err := l.LastRotation(origin)
	if err != nil {
		return 0, err
	}
	if rotated {
		pub = r.PublicKey
	}
	total := 0
	for {
		head := l.Head(origin)
		resp, err := client.SyncPull(ctx, &sanziv1.SyncPullRequest{Origin: origin, FromSeq: head.Seq + 1, Limit: 1000}, grpc.UseCompressor("gzip"))
		if err != nil {
			return total, fmt.Errorf("read the parent's copy of %s after seq %d: %w", origin, head.Seq, err)
		}
		if len(resp.GetEntries()) == 0 {
			return total, nil
		}
		n, rs, err := storeFollowing(ctx, l, origin, pub, head, resp.GetEntries(), ledger.KeyOptions{})
		if len(rs) > 0 {
			pub = rs[len(rs)-1].PublicKey
		}
		if err != nil {
			return total, fmt.Errorf("%w: the parent's copy of %s does not continue this node's chain at seq %d (%v): stop the node and run sanzi repair --from-parent", ErrFork, origin, head.Seq+1, err)
		}
		total += n
	}
}
