package member

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public"
)

// The villagers' side (issue 15): the leader signs checkpoints of every
// chain head with the district chain's key, and every member serves the
// public site from its replicated state.

// startCheckpoints signs checkpoints while this member leads, started and
// stopped with leadership as the analytics loader is: two leaders signing
// at once would propose two checkpoints with one number, and the FSM keeps
// only the first.
func (m *Member) startCheckpoints(ctx context.Context) error {
	s, err := checkpoint.NewSigner(checkpoint.Config{
		District:   m.chainKey.Origin,
		Key:        m.chainKey.Key,
		State:      m.node.FSM(),
		Proposer:   m.node,
		Every:      m.cfg.CheckpointEvery,
		Now:        m.cfg.Now,
		Logger:     m.log.With("subsystem", "checkpoint"),
		Registerer: m.node.Registry(),
	})
	if err != nil {
		return err
	}
	m.checkpoints = newLeaderWork(m, "checkpoint signer", s.Run)
	m.checkpoints.follow(ctx)
	return nil
}

// publicSite is the public site over this member's state.
func (m *Member) publicSite() (http.Handler, error) {
	names := map[string]string{}
	for _, o := range m.cfg.Orgs {
		names[o.Code] = o.Name
	}
	site, err := public.New(public.Config{
		District:    m.chainKey.Origin,
		Names:       names,
		PublicKey:   m.chainKey.Key.Public().(ed25519.PublicKey),
		Certificate: m.chainKey.Cert,
		State:       m.node.FSM(),
		Proofs:      m.cfg.PublicProofs,
		Limits:      m.cfg.PublicLimits,
		Complaints:  m.complaintConfig(),
		Now:         m.cfg.Now,
		Logger:      m.log.With("subsystem", "public"),
	})
	if err != nil {
		return nil, fmt.Errorf("public site: %w", err)
	}
	return site, nil
}
