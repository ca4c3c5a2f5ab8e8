package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/notify"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/town"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Who hears of what (DOMAIN.md): an alert as notify.AlertPosts says; a
// warning to the step's post, a yellow card also to the town reviewer, a
// red card also to the town leader and the discipline office.
var (
	cardPosts = map[sanziv1.CardLevel][]string{
		sanziv1.CardLevel_CARD_LEVEL_WARNING: nil,
		sanziv1.CardLevel_CARD_LEVEL_YELLOW:  {"town.reviewer"},
		sanziv1.CardLevel_CARD_LEVEL_RED:     {"town.leader", "district.discipline"},
	}
	cardKinds = map[sanziv1.CardLevel]string{
		sanziv1.CardLevel_CARD_LEVEL_WARNING: notify.KindWarning,
		sanziv1.CardLevel_CARD_LEVEL_YELLOW:  notify.KindYellowCard,
		sanziv1.CardLevel_CARD_LEVEL_RED:     notify.KindRedCard,
	}
)

// superviseConfig turns on the catalog's procedures, their timers, the
// stateful rules and the notifier over the node's books.
func (n *Node) supervise(ctx context.Context) error {
	spec := calendar.Default2026()
	if n.cfg.Calendar != nil {
		spec = *n.cfg.Calendar
	}
	cal, err := calendar.New(spec)
	if err != nil {
		return fmt.Errorf("calendar: %w", err)
	}
	n.cal = cal
	contacts := n.cfg.Contacts
	channels := n.cfg.Channels(n.cfg.Now)
	if len(channels) > 0 {
		// Deliveries by channel and result, so an operator can alert on
		// failures (deploy/prometheus/alerts.yml) without reading the chain.
		n.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sanzi_notify_deliveries_total",
			Help: "Finished notification deliveries (after retries), by channel and result (delivered or failed)."}, []string{"channel", "result"})
		n.registry.MustRegister(n.deliveries)
		n.notifier, err = notify.New(notify.Config{Contacts: contacts, Channels: channels, Record: n.recordDelivery,
			Logger: n.log.With("subsystem", "notify")})
		if err != nil {
			return err
		}
	}
	person := func(org, post string) string {
		if cs := contacts.ForPost(org, post); len(cs) > 0 {
			return cs[0].Name
		}
		return ""
	}
	cat := catalog.Default(n.cfg.Orgs[0][:6])
	tier, err := town.For(n.level, n.books, cat, cal)
	if err != nil {
		return err
	}
	n.decisionsRefused = func() int { return 0 }
	if v, ok := tier.(*town.Village); ok {
		n.decisionsRefused = v.Refused
	}
	// The state is checkpointed in the ledger's file, so that a start
	// replays only what came after it (issue 17).
	n.sup, err = supervise.New(ctx, n.books, supervise.Config{
		Catalog: cat, Calendar: cal, Person: person, Notify: n.notifyFindings, Tier: tier,
		Checkpoints: n.checkpoints(), Logger: n.log.With("subsystem", "supervise"),
	})
	if err != nil {
		return err
	}
	// Vouchers are booked on the live catalog's chart (issue 19).
	n.books.SetChart(n.sup.Chart)
	return nil
}

// checkpoints is where the supervision and the accounts keep their state:
// the ledger's file (nil for a start that replays everything, replayAll).
func (n *Node) checkpoints() *checkpoint.Store {
	if n.cfg.replayAll {
		return nil
	}
	return checkpoint.New(n.ledger)
}

// notifyFindings queues messages about new alerts and cards.
func (n *Node) notifyFindings(stored []*ledger.Stored) {
	if n.notifier == nil {
		return
	}
	for _, s := range stored {
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			continue
		}
		var msgs []notify.Message
		switch m := m.(type) {
		case *sanziv1.Alert:
			for _, post := range notify.AlertPosts[m.GetSeverity()] {
				msgs = append(msgs, notify.AlertMessage(m.GetOrg(), post, s.ID(), m.GetRuleCode(), m.GetSeverity(), m.GetReason(), s.Subject))
			}
		case *sanziv1.Card:
			kind := cardKinds[m.GetLevel()]
			for _, post := range append([]string{m.GetPost()}, cardPosts[m.GetLevel()]...) {
				msg := notify.DeadlineMessage(kind, m.GetOrg(), post, m.GetMatterCode(), m.GetStepCode(), m.GetPerson(), m.GetDeadline().AsTime(), n.cal.Location())
				msg.ID = s.ID() + "/" + kind + "/" + post
				msg.Body += "\n" + m.GetReason()
				msgs = append(msgs, msg)
			}
		}
		for _, msg := range msgs {
			if err := n.notifier.Notify(context.Background(), msg); err != nil {
				n.log.Warn("notification not queued", "message", msg.ID, "err", err)
			}
		}
	}
}

// recordDelivery stores a finished delivery as an entry, so that who was
// told what, and when, is part of the signed history.
func (n *Node) recordDelivery(d notify.Delivery) {
	result := "failed"
	if d.OK {
		result = "delivered"
	}
	n.deliveries.WithLabelValues(d.Channel, result).Inc()
	parts := strings.SplitN(d.MessageID, "/", 3)
	about, kind, post := parts[0], "", ""
	if len(parts) == 3 {
		kind, post = parts[1], parts[2]
	}
	origin, _, err := ledger.ParseEntryID(about)
	if err != nil {
		origin = n.cfg.Orgs[0]
	}
	rec := &sanziv1.NotificationDelivery{Org: origin, AboutId: about, Kind: kind, Post: post, Channel: d.Channel, Address: d.To,
		MessageId: d.MessageID, Attempts: int32(d.Attempts), Delivered: d.OK, Error: d.Err}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.books.RecordDelivery(ctx, rec); err != nil {
		n.log.Error("record notification delivery", "message", d.MessageID, "err", err)
	}
}

// sweepLoop runs the step timers and time-driven rules every SweepEvery
// until ctx ends.
func (n *Node) sweepLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.SweepEvery)
	defer t.Stop()
	var attachSwept time.Time
	for {
		if now := n.cfg.Now(); now.Sub(attachSwept) >= attachSweepEvery {
			attachSwept = now
			n.sweepAttachments(ctx)
		}
		// The accounts keep a checkpoint as the supervision does (Sweep),
		// so that a start after a crash replays little of the home chain.
		if err := n.accounts.Checkpoint(supervise.DefaultCheckpointEvery); err != nil && ctx.Err() == nil {
			n.log.Warn("checkpoint accounts", "err", err)
		}
		if out, err := n.sup.Sweep(ctx, n.cfg.Now()); err != nil {
			if ctx.Err() == nil {
				n.log.Error("sweep timers and time-driven rules", "err", err)
			}
		} else if len(out) > 0 {
			n.log.Info("timers and rules recorded findings", "entries", len(out))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// attachSweepEvery: expiry is counted in days, so an hourly look is plenty.
const attachSweepEvery = time.Hour

// sweepAttachments removes the attachments no entry names that outlived
// their TTL, and says so.
func (n *Node) sweepAttachments(ctx context.Context) {
	att := n.books.Attachments()
	sw, err := att.Sweep(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("sweep expired attachments", "err", err)
		}
		return
	}
	if sw.Count > 0 || sw.Partials > 0 {
		n.log.Info("removed attachments no entry named after their TTL", "attachments", sw.Count, "bytes", sw.Bytes, "partial_uploads", sw.Partials, "ttl", att.Policy().TTL)
	}
}
