package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/retry"
	"github.com/sanzi/sanzi/node/town"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// photoPoll is how often a town looks for complaint photos it lacks: the
// district chain's pull brings a complaint every few seconds at most.
const photoPoll = 5 * time.Second

// parentPhotos reads attachments from the parent (the district) with the
// node's certificate: the photos of the villagers' complaints addressed to
// this town, which the district holds (issue 15); close ends the
// connection.
func parentPhotos(cfg Config, iss *pki.Issued) (get town.PhotoSource, close func(), err error) {
	pool, err := pki.LoadPool(cfg.TLSDir)
	if err != nil {
		return nil, nil, err
	}
	creds := credentials.NewTLS(pki.ClientConfig(pool, iss.TLSCertificate(), pki.AllowRoles(pki.RoleDistrict)))
	conn, err := grpc.NewClient(cfg.Parent, grpc.WithTransportCredentials(creds), limits.CallOptions())
	if err != nil {
		return nil, nil, err
	}
	client := sanziv1.NewAttachmentServiceClient(conn)
	return func(ctx context.Context, h string) (*sanziv1.Attachment, []byte, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		resp, err := client.GetAttachment(ctx, &sanziv1.GetAttachmentRequest{Sha256: h})
		return resp.GetAttachment(), resp.GetContent(), err
	}, func() { conn.Close() }, nil
}

// fetchPhotos brings the town's complaint photos from the district until
// ctx ends: every photoPoll, and after a failure with backoff.
func (n *Node) fetchPhotos(ctx context.Context, get town.PhotoSource) {
	n.poll(ctx, photoPoll, "fetch complaint photos from the district", func(ctx context.Context) (bool, error) {
		got, err := n.desk.FetchPhotos(ctx, get)
		if err == nil && got > 0 {
			n.log.Info("fetched complaint photos from the district", "photos", got)
		}
		return false, err
	})
}

// poll calls once until ctx ends: every `every`, at once again while it
// says there is more, and after a failure with backoff (up to 5 minutes),
// logging the failure as what.
func (n *Node) poll(ctx context.Context, every time.Duration, what string, once func(context.Context) (more bool, err error)) {
	failures := 0
	for {
		more, err := once(ctx)
		wait := every
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = retry.Backoff(failures, every, 5*time.Minute, nil)
			n.log.Warn(what, "err", err, "retry in", wait.Round(time.Second))
		case more:
			failures = 0
			continue
		default:
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
