package cluster

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// expireEvery: expiry is counted in days, so an hourly proposal is plenty,
// and an empty one costs one small log entry.
const expireEvery = time.Hour

// originKey carries, on a piece a follower forwards to the leader, the org
// of the node that sent it to the follower: the leader's own peer is then
// the follower, not the origin to charge.
const originKey = "x-sanzi-attachment-origin"

// ExpireAttachments (leader only) proposes the removal of every attachment
// no entry names that was uploaded more than AttachmentTTL ago by this
// leader's clock. The cutoff travels in the command, so members decide
// alike (fsm/expire.go).
func (n *Node) ExpireAttachments(ctx context.Context) (*fsm.Expired, error) {
	cutoff := n.cfg.Now().Add(-n.cfg.AttachmentTTL)
	r, err := n.apply(ctx, clusterv1.CommandType_COMMAND_TYPE_EXPIRE_ATTACHMENTS, &clusterv1.ExpireAttachments{CutoffUnixMs: cutoff.UnixMilli()})
	if err != nil {
		return nil, err
	}
	out, _ := r.(*fsm.Expired)
	if out == nil {
		out = &fsm.Expired{}
	}
	n.met.attachmentsExpired.Add(float64(out.Count))
	return out, nil
}

// expireLoop proposes an expiry every expireEvery while this member leads.
func (n *Node) expireLoop() {
	defer n.wg.Done()
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
		out, err := n.ExpireAttachments(ctx)
		cancel()
		switch {
		case err != nil:
			n.log.Warn("propose attachment expiry", "err", err)
		case out.Count > 0:
			n.log.Info("removed attachments no entry named after their TTL", "attachments", out.Count, "bytes", out.Bytes, "ttl", n.cfg.AttachmentTTL)
		}
	}
}

// stampPiece fills in, on the leader, the origin a piece is charged to and
// the leader's time, and refuses the first piece of an attachment that
// would take its origin past the quota.
func (n *Node) stampPiece(ctx context.Context, c *clusterv1.AttachmentChunk) error {
	origin, err := pieceOrigin(ctx)
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "%v", err)
	}
	return n.stampFor(c, origin)
}

// stampFor fills in the origin a piece is charged to and its upload time,
// checking the origin's quota on a new attachment's first piece.
func (n *Node) stampFor(c *clusterv1.AttachmentChunk, origin string) error {
	c.Origin, c.UploadedUnixMs = origin, n.cfg.Now().UnixMilli()
	if c.GetOffset() != 0 {
		return nil
	}
	if _, complete, err := n.fsm.AttachmentState(c.GetSha256()); err != nil || complete {
		return err
	}
	used, err := n.fsm.AttachmentUsage(origin)
	if err != nil {
		return fmt.Errorf("read the attachment use of %s: %w", origin, err)
	}
	if err := attach.QuotaCheck(origin, n.cfg.AttachmentQuota, used, c.GetSize()); err != nil {
		return fmt.Errorf("%w: %v", relay.ErrQuota, err)
	}
	return nil
}

// pieceOrigin is the org that sent a piece: the peer, or, on a piece a
// fellow member forwarded, the org it names.
func pieceOrigin(ctx context.Context) (string, error) {
	org, role, err := peerIdentity(ctx)
	if err != nil {
		return "", err
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if ok && role == pki.RoleDistrict && len(md.Get(forwardedKey)) > 0 && len(md.Get(originKey)) > 0 {
		return md.Get(originKey)[0], nil
	}
	return org, nil
}
