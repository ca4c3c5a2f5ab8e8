package fsm

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// Error values Apply returns (as its result, not as a failure of Raft) for
// commands every member refuses alike; compare with errors.Is.
var (
	// ErrBadCommand: the payload of a known command type is malformed or
	// misses a required field, so it changed nothing.
	ErrBadCommand = errors.New("fsm: malformed command")
	// ErrKeyConflict: an origin that already has entries cannot change its
	// key, or every entry it has would stop verifying.
	ErrKeyConflict = errors.New("fsm: origin already has entries under a different key")
)

// Result is what Apply returns for an APPEND command, so the member that
// proposed it can tell the pusher what was stored and what was not.
type Result struct {
	// Index is the Raft index of the command.
	Index uint64
	// Added entries were stored; Duplicates were already held; Rejected did
	// not continue their chain (or followed one that did not).
	Added, Duplicates, Rejected int
	// Heads is the head of every origin the batch touched, after applying.
	// Nil when the command was skipped as already applied.
	Heads map[string]ledger.Head
	// Problems says why entries were rejected or forked, in batch order,
	// then how many later entries of each origin were rejected with it.
	Problems []string
}

// Apply applies one committed log; see ApplyBatch.
func (f *FSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed logs in one bbolt write transaction, so the
// whole batch costs one fsync, and stores the applied index in it. Only
// raft.LogCommand logs carry commands; the others, and logs at or below the
// applied index (a replay), change nothing. It panics on a command it cannot
// apply the same way as every other member (undecodable, unknown and not
// optional) or when the state file cannot be written: going on would make
// this replica silently diverge, and after a restart raft replays from the
// last applied index.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	cmds := make([]*clusterv1.Command, len(logs))
	applied := f.AppliedIndex()
	work := false
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		cmds[i] = decodeCommand(l)
		if l.Index > applied {
			work = true
		} else if cmds[i].GetType() == clusterv1.CommandType_COMMAND_TYPE_APPEND {
			out[i] = &Result{Index: l.Index} // a replay: zero counts
		}
	}
	if !work {
		return out
	}
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if f.db == nil {
		panic("fsm: ApplyBatch after Close; the applied logs would be lost on this member")
	}
	var a *applier
	err := f.db.Update(func(tx *bolt.Tx) error {
		a = newApplier(tx, f.log)
		a.named = f.cfg.Named
		for i, l := range logs {
			if cmds[i] == nil || l.Index <= applied {
				continue
			}
			r, err := a.apply(l.Index, cmds[i])
			if err != nil {
				return fmt.Errorf("raft index %d: %w", l.Index, err)
			}
			out[i], applied = r, l.Index
		}
		return tx.Bucket(bucketMeta).Put(keyApplied, u64(applied))
	})
	if err != nil {
		panic(fmt.Sprintf("fsm: cannot write state file %s (%v); stopping rather than diverge from the other members", f.cfg.Path, err))
	}
	f.mu.Lock()
	for o, h := range a.heads {
		if h.Seq > 0 { // origins only looked up stay out, as after a restart
			f.heads[o] = h
		}
	}
	for o, k := range a.keys {
		f.keys[o] = k
	}
	a.ks.mergeInto(&f.ks)
	if a.checkpointed != nil {
		f.checkpointed = a.checkpointed
	}
	f.mu.Unlock()
	f.applied.Store(applied)
	if a.loaded > 0 {
		f.loaded.Store(a.loaded)
	}
	return out
}

// decodeCommand decodes the envelope, panicking when this member cannot
// apply it as the others do (see command.proto).
func decodeCommand(l *raft.Log) *clusterv1.Command {
	cmd, err := peekCommand(l.Data)
	if err != nil {
		panic(fmt.Sprintf("fsm: raft index %d: undecodable command (%v); skipping it could make the replicas diverge", l.Index, err))
	}
	known := cmd.GetType() >= clusterv1.CommandType_COMMAND_TYPE_APPEND && cmd.GetType() <= clusterv1.CommandType_COMMAND_TYPE_RECORD_DELIVERY ||
		cmd.GetType() == clusterv1.CommandType_COMMAND_TYPE_EXPIRE_ATTACHMENTS || cmd.GetType() == clusterv1.CommandType_COMMAND_TYPE_CREDENTIALS ||
		cmd.GetType() == clusterv1.CommandType_COMMAND_TYPE_CHECKPOINT
	if !known && !cmd.GetOptional() {
		panic(fmt.Sprintf("fsm: raft index %d: unknown command type %d not marked optional; upgrade this member, since skipping it would make the replicas diverge", l.Index, cmd.GetType()))
	}
	return cmd
}

// applier applies commands inside one write transaction. It reads state
// from the transaction only (never from the FSM's caches), so it can be
// tested on its own; heads and keys record what it changed, for the caches.
type applier struct {
	tx     *bolt.Tx
	log    *slog.Logger
	chains map[string]*bolt.Bucket
	heads  map[string]ledger.Head // every origin touched, as of now in tx
	keys   map[string]ed25519.PublicKey
	ks     keyState // rotations and revocations applied (keys.go)
	loaded uint64
	// checkpointed is the checkpoint stored, for the cache (checkpoints.go).
	checkpointed *checkpoint.Signed
	// named lists the attachments an entry names (Config.Named), into
	// names, reused from entry to entry.
	named NamedFunc
	names [][]byte
}

func newApplier(tx *bolt.Tx, log *slog.Logger) *applier {
	return &applier{tx: tx, log: log, chains: map[string]*bolt.Bucket{}, heads: map[string]ledger.Head{}, keys: map[string]ed25519.PublicKey{}, ks: newKeyState()}
}

// apply runs one command. The interface{} is the command's result; an error
// is a storage failure that must abort the transaction.
func (a *applier) apply(index uint64, cmd *clusterv1.Command) (interface{}, error) {
	p := cmd.GetPayload()
	switch cmd.GetType() {
	case clusterv1.CommandType_COMMAND_TYPE_APPEND:
		return a.appendEntries(index, p)
	case clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN:
		return a.registerOrigin(p)
	case clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER:
		return a.setMember(p)
	case clusterv1.CommandType_COMMAND_TYPE_SET_LOADED:
		return a.setLoaded(p)
	case clusterv1.CommandType_COMMAND_TYPE_ATTACHMENT_CHUNK:
		return a.attachmentChunk(p)
	case clusterv1.CommandType_COMMAND_TYPE_RECORD_FORK:
		return a.recordFork(index, p)
	case clusterv1.CommandType_COMMAND_TYPE_EXPIRE_ATTACHMENTS:
		return a.expireAttachments(p)
	case clusterv1.CommandType_COMMAND_TYPE_RECORD_DELIVERY:
		return a.recordDelivery(p)
	case clusterv1.CommandType_COMMAND_TYPE_CREDENTIALS:
		return a.credentials(p)
	case clusterv1.CommandType_COMMAND_TYPE_CHECKPOINT:
		return a.checkpoint(p) // checkpoints.go
	}
	a.log.Warn("skipping optional command of a type this binary does not know", "index", index, "type", cmd.GetType())
	return nil, nil
}

// head is origin's head as of now in the transaction.
func (a *applier) head(origin string) (ledger.Head, error) {
	if h, ok := a.heads[origin]; ok {
		return h, nil
	}
	h, err := lastHead(a.tx.Bucket(bucketChains).Bucket([]byte(origin)), origin)
	if err == nil {
		a.heads[origin] = h
	}
	return h, err
}

func (a *applier) chain(origin string) (*bolt.Bucket, error) {
	if b, ok := a.chains[origin]; ok {
		return b, nil
	}
	b, err := a.tx.Bucket(bucketChains).CreateBucketIfNotExists([]byte(origin))
	if err != nil {
		return nil, fmt.Errorf("create chain %s: %w", origin, err)
	}
	b.FillPercent = 1 // seqs only grow: pack pages full
	a.chains[origin] = b
	return b, nil
}

// appendEntries stores every entry that continues its origin's chain.
func (a *applier) appendEntries(index uint64, payload []byte) (interface{}, error) {
	entries, err := peekEntries(payload)
	if err != nil {
		return err, nil
	}
	res := &Result{Index: index, Heads: map[string]ledger.Head{}}
	type track struct {
		span          *clusterv1.OriginRange // seqs stored, for the feed
		blocked       bool                   // an entry was rejected: reject the rest
		rejectedAfter int
		origin        string
	}
	var order []*track
	tracks := map[string]*track{}
	// Per entry, the apply allocates only what bbolt's Put does: the
	// origin names are shared (ledger.Origins), the seq keys are cut from
	// one buffer (bbolt copies a key it stores), and entry ids are made
	// only for an entry that names attachments.
	var origins ledger.Origins
	keys := make([]byte, 8*len(entries))
	for i, raw := range entries {
		s, err := origins.Peek(raw)
		if err == nil && s.Origin == "" {
			err = errors.New("entry names no origin")
		}
		if err != nil {
			res.Rejected++
			res.Problems = append(res.Problems, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		t := tracks[s.Origin]
		if t == nil {
			t = &track{origin: s.Origin}
			tracks[s.Origin], order = t, append(order, t)
		}
		if t.blocked {
			t.rejectedAfter++
			res.Rejected++
			continue
		}
		head, err := a.head(s.Origin)
		if err != nil {
			return nil, err
		}
		problem := ""
		switch {
		case s.Seq == 0:
			problem = "seq 0"
		case s.Seq <= head.Seq:
			res.Duplicates++
			held, err := ledger.Peek(a.tx.Bucket(bucketChains).Bucket([]byte(s.Origin)).Get(u64(s.Seq)))
			if err != nil || held.Hash != s.Hash {
				res.Problems = append(res.Problems, fmt.Sprintf("fork at %s seq %d", s.Origin, s.Seq))
			}
			continue
		case s.Seq != head.Seq+1:
			problem = fmt.Sprintf("gap: head is seq %d", head.Seq)
		case s.PrevHash != head.Hash:
			problem = fmt.Sprintf("prev_hash %s does not link to head seq %d hash %s", short(s.PrevHash), head.Seq, short(head.Hash))
		}
		if problem != "" {
			t.blocked = true
			res.Rejected++
			res.Problems = append(res.Problems, fmt.Sprintf("%s seq %d rejected: %s", s.Origin, s.Seq, problem))
			continue
		}
		b, err := a.chain(s.Origin)
		if err != nil {
			return nil, err
		}
		key := keys[8*i : 8*i+8 : 8*i+8]
		binary.BigEndian.PutUint64(key, s.Seq)
		if err := b.Put(key, raw); err != nil {
			return nil, fmt.Errorf("store %s: %w", ledger.EntryID(s.Origin, s.Seq), err)
		}
		if err := a.keyEntry(s); err != nil {
			return nil, err
		}
		a.heads[s.Origin] = ledger.Head{Seq: s.Seq, Hash: s.Hash}
		if err := a.markNamed(&s); err != nil {
			return nil, err
		}
		res.Added++
		if t.span == nil {
			t.span = &clusterv1.OriginRange{Origin: s.Origin, FromSeq: s.Seq}
		}
		t.span.ToSeq = s.Seq
	}
	rec := &clusterv1.FeedRecord{}
	for _, t := range order {
		res.Heads[t.origin] = a.heads[t.origin]
		if t.span != nil {
			rec.Ranges = append(rec.Ranges, t.span)
		}
		if t.rejectedAfter > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %d later entries rejected with it", t.origin, t.rejectedAfter))
		}
	}
	if len(res.Problems) > 0 {
		a.log.Warn("append batch had entries that do not continue their chains", "index", index,
			"added", res.Added, "duplicates", res.Duplicates, "rejected", res.Rejected, "first_problem", res.Problems[0])
	}
	if len(rec.Ranges) == 0 {
		return res, nil
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode feed record: %w", err)
	}
	fb := a.tx.Bucket(bucketFeed)
	fb.FillPercent = 1 // indexes only grow
	if err := fb.Put(u64(index), v); err != nil {
		return nil, fmt.Errorf("store feed record: %w", err)
	}
	return res, nil
}

// short is the start of a hash, for a log line (a copy: slicing a field
// of a hot loop's variable for fmt would move that variable to the heap).
func short(h [ledger.HashSize]byte) string { return hex.EncodeToString(h[:6]) }

// registerOrigin records the key an origin signs with.
func (a *applier) registerOrigin(payload []byte) (interface{}, error) {
	var m clusterv1.RegisterOrigin
	if err := decode(payload, &m); err != nil {
		return err, nil
	}
	origin, pub := m.GetOrigin(), m.GetPublicKey()
	if origin == "" || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: register origin %q: need an origin and a %d-byte key, got %d bytes", ErrBadCommand, origin, ed25519.PublicKeySize, len(pub)), nil
	}
	kb := a.tx.Bucket(bucketKeys)
	cur := kb.Get([]byte(origin))
	if cert := m.GetCertificate(); len(cert) > 0 && (cur == nil || bytes.Equal(cur, pub)) {
		cb, err := a.tx.CreateBucketIfNotExists(bucketCerts)
		if err != nil {
			return nil, err
		}
		if err := cb.Put([]byte(origin), cert); err != nil {
			return nil, fmt.Errorf("store certificate of %s: %w", origin, err)
		}
	}
	if bytes.Equal(cur, pub) {
		return nil, nil
	}
	if cur != nil {
		head, err := a.head(origin)
		if err != nil {
			return nil, err
		}
		if head.Seq > 0 {
			return fmt.Errorf("%w: %s (head seq %d)", ErrKeyConflict, origin, head.Seq), nil
		}
	}
	if err := kb.Put([]byte(origin), pub); err != nil {
		return nil, fmt.Errorf("store key of %s: %w", origin, err)
	}
	a.keys[origin] = ed25519.PublicKey(append([]byte(nil), pub...))
	return nil, nil
}

// setMember records where a member serves.
func (a *applier) setMember(payload []byte) (interface{}, error) {
	var m clusterv1.Member
	if err := decode(payload, &m); err != nil {
		return err, nil
	} else if m.GetId() == "" {
		return fmt.Errorf("%w: member without id", ErrBadCommand), nil
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encode member: %w", err)
	}
	if err := a.tx.Bucket(bucketMembers).Put([]byte(m.GetId()), v); err != nil {
		return nil, fmt.Errorf("store member %s: %w", m.GetId(), err)
	}
	return nil, nil
}

// setLoaded raises the loader's index; it never goes back.
func (a *applier) setLoaded(payload []byte) (interface{}, error) {
	var m clusterv1.LoadedIndex
	if err := decode(payload, &m); err != nil {
		return err, nil
	}
	meta := a.tx.Bucket(bucketMeta)
	if m.GetIndex() <= getUint(meta, keyLoaded) {
		return nil, nil
	}
	if err := meta.Put(keyLoaded, u64(m.GetIndex())); err != nil {
		return nil, fmt.Errorf("store loaded index: %w", err)
	}
	a.loaded = m.GetIndex()
	return nil, nil
}

// decode unmarshals a command's payload; a failure is the command's result.
func decode(payload []byte, m proto.Message) error {
	if err := proto.Unmarshal(payload, m); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadCommand, m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// peekCommand reads the envelope without copying its payload: the payload
// aliases the Raft log's data, which outlives the apply (bbolt copies values
// at commit). proto.Unmarshal would copy a batch of megabytes once more on
// every member.
func peekCommand(data []byte) (*clusterv1.Command, error) {
	cmd := &clusterv1.Command{}
	err := ledger.WireFields(data, func(n protowire.Number, typ protowire.Type, v []byte, u uint64) {
		switch {
		case n == 1 && typ == protowire.VarintType:
			cmd.Type = clusterv1.CommandType(u)
		case n == 2 && typ == protowire.BytesType:
			cmd.Payload = v
		case n == 3 && typ == protowire.VarintType:
			cmd.Optional = u != 0
		}
	})
	return cmd, err
}

// peekEntries lists the entries of an AppendBatch payload, aliasing it.
// The list is made at its size from a first count: growing it entry by
// entry copied a thousand-entry batch's list a dozen times on every member.
func peekEntries(payload []byte) ([][]byte, error) {
	count := 0
	err := ledger.WireFields(payload, func(n protowire.Number, typ protowire.Type, _ []byte, _ uint64) {
		if n == 1 && typ == protowire.BytesType {
			count++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%w: AppendBatch: %v", ErrBadCommand, err)
	}
	out := make([][]byte, 0, count)
	err = ledger.WireFields(payload, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if n == 1 && typ == protowire.BytesType {
			out = append(out, v)
		}
	})
	return out, err
}
