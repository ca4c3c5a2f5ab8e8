package member

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/notify"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// tamperNotifier tells the posts that handle a red alert (notify.AlertPosts:
// the village's town reviewer and leader, the district's discipline office)
// of each TAMPER finding the district records through Raft: a fork, or a
// pushed entry that does not verify (federation/fsm forks.go). It runs on
// the leader only, like the analytics loader, through node/notify (webhook
// and mail, with retries), and records every finished delivery, delivered
// or given up, through Raft (cluster.Node.RecordDelivery).
//
// Once across leader changes: a finding's messages have deterministic IDs
// (notify.TamperID from origin, seq and sent hash, then kind and post), and
// every run, on becoming leader, goes through all the findings the state
// holds (few: each is an alert someone must look at) and queues only the
// deliveries (message, channel, address) with no recorded delivery; then
// it follows new findings by their Raft index. What a leader delivered but
// had not recorded when it lost leadership is sent again by the next one,
// with the same message ID, which the receiver drops (notify.Verify's
// doc): the only window for a second delivery. A delivery abandoned
// because the run was stopping is not recorded, so the next leader makes
// it rather than taking it as given up.
type tamperNotifier struct {
	m        *Member
	setup    notify.Setup
	channels []notify.Channel
	every    time.Duration
}

// notifyEvery is how often the leader's notifier looks for new findings.
const notifyEvery = 2 * time.Second

// startTamperNotifier follows leadership with the notifier; without a
// channel (no webhook secret, no mail server) nobody is told.
func (m *Member) startTamperNotifier(ctx context.Context) {
	channels := m.cfg.Notify.Channels(nil)
	if len(channels) == 0 {
		return
	}
	t := &tamperNotifier{m: m, setup: m.cfg.Notify, channels: channels, every: cmp.Or(m.cfg.NotifyEvery, notifyEvery)}
	m.tamper = newLeaderWork(m, "TAMPER notifier", t.run)
	m.tamper.follow(ctx)
}

// run notifies until ctx ends (leadership lost, shutdown).
func (t *tamperNotifier) run(ctx context.Context) {
	log := t.m.log.With("subsystem", "notify")
	var mu sync.Mutex
	about := map[string]*sanziv1.NotificationDelivery{} // message id -> what its deliveries record
	n, err := notify.New(notify.Config{Contacts: t.setup.Contacts, Channels: t.channels, Logger: log,
		Record: func(d notify.Delivery) {
			mu.Lock()
			rec := about[d.MessageID]
			mu.Unlock()
			t.record(ctx, rec, d)
		}})
	if err != nil {
		log.Error("TAMPER notifier", "err", err)
		return
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n.Close(cctx)
	}()
	log.Info("TAMPER notifier started (this member leads)")
	var cursor uint64 // Raft index of the newest finding handled in this run
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		forks, err := t.m.node.FSM().Forks("")
		if err != nil {
			log.Error("list TAMPER findings", "err", err)
		}
		for _, f := range forks {
			if f.GetIndex() <= cursor {
				continue
			}
			for _, msg := range tamperMessages(f) {
				mu.Lock()
				about[msg.ID] = &sanziv1.NotificationDelivery{Org: msg.Org, AboutId: ledger.EntryID(f.GetOrigin(), f.GetSeq()),
					Kind: msg.Kind, Post: msg.Post, MessageId: msg.ID}
				mu.Unlock()
				done, err := t.delivered(msg.ID)
				if err != nil {
					log.Error("read the recorded deliveries", "message", msg.ID, "err", err)
					continue
				}
				if q, err := n.NotifyExcept(ctx, msg, done); err != nil {
					log.Warn("TAMPER notification not queued", "message", msg.ID, "err", err)
				} else if q > 0 {
					log.Info("TAMPER notification queued", "message", msg.ID, "deliveries", q)
				}
			}
			cursor = f.GetIndex()
		}
		select {
		case <-ctx.Done():
			log.Info("TAMPER notifier stopped")
			return
		case <-tick.C:
		}
	}
}

// delivered says which deliveries of message id are recorded already.
func (t *tamperNotifier) delivered(id string) (func(channel, to string) bool, error) {
	recs, err := t.m.node.FSM().Deliveries(id)
	if err != nil {
		return nil, err
	}
	done := map[[2]string]bool{}
	for _, r := range recs {
		done[[2]string{r.GetChannel(), r.GetAddress()}] = true
	}
	return func(channel, to string) bool { return done[[2]string{channel, to}] }, nil
}

// record stores a finished delivery through Raft. One abandoned because the
// run is stopping is left for the next leader to make.
func (t *tamperNotifier) record(ctx context.Context, about *sanziv1.NotificationDelivery, d notify.Delivery) {
	if ctx.Err() != nil && !d.OK {
		t.m.log.Warn("TAMPER notification not made before leadership ended; the next leader makes it", "message", d.MessageID, "to", d.To)
		return
	}
	rec := &sanziv1.NotificationDelivery{MessageId: d.MessageID}
	if about != nil {
		rec = &sanziv1.NotificationDelivery{Org: about.GetOrg(), AboutId: about.GetAboutId(), Kind: about.GetKind(), Post: about.GetPost(), MessageId: d.MessageID}
	}
	rec.Channel, rec.Address, rec.Attempts, rec.Delivered, rec.Error = d.Channel, d.To, int32(d.Attempts), d.OK, d.Err
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := t.m.node.RecordDelivery(rctx, rec); err != nil {
		t.m.log.Error("record TAMPER notification delivery", "message", d.MessageID, "to", d.To, "err", err)
	}
}

// tamperMessages are the red alert messages of finding f, one per post
// that handles TAMPER, each addressed at the org holding the post for the
// village (its town, its district).
func tamperMessages(f *sanziv1.ForkRecord) []notify.Message {
	what := "与区里已收到的不一致（分叉）"
	kind := "fork"
	if f.GetKind() != sanziv1.TamperKind_TAMPER_KIND_UNSPECIFIED {
		kind = strings.TrimPrefix(f.GetKind().String(), "TAMPER_KIND_")
		what = fmt.Sprintf("未通过校验（%s：%s）", kind, f.GetProblem())
	}
	reason := fmt.Sprintf("篡改：%s 第 %d 条记账%s，区里已拒收，请核查", f.GetOrigin(), f.GetSeq(), what)
	id := notify.TamperID(f.GetOrigin(), f.GetSeq(), f.GetSentHash())
	subject := ledger.EntryID(f.GetOrigin(), f.GetSeq())
	var out []notify.Message
	for _, post := range notify.AlertPosts["red"] {
		msg := notify.AlertMessage(notify.PostOrg(f.GetOrigin(), post), post, id, "TAMPER", "red", reason, subject)
		msg.Data["village"], msg.Data["seq"], msg.Data["tamper_kind"] = f.GetOrigin(), fmt.Sprint(f.GetSeq()), kind
		msg.Data["sent_hash"], msg.Data["pushed_by"] = f.GetSentHash(), f.GetPushedBy()
		out = append(out, msg)
	}
	return out
}
