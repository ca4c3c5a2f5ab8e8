package fsm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/checkpoint/cpstore"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// AdoptCheckpoint makes c the newest checkpoint of a restored state that is
// about to become a new cluster's first snapshot (cluster.Config.SeedCheck),
// outside Raft: nothing else has this state yet.
//
// Why: the district that was lost may have signed checkpoints after the
// backup was taken, and villagers may hold them. A new cluster that went on
// numbering from the backup's newest would sign a second, different
// checkpoint with a number already given: a contradiction anyone holding
// both could show. With the old cluster's newest checkpoint adopted (a copy
// from the public site, or a villager's kept one), the signer's own rule
// (checkpoint.Follows) holds it back until every chain that checkpoint
// names is back at or beyond its head with the same hash — the villages
// push again what the backup lacks — and then goes on from its number.
//
// c must verify with the district chain's key the state holds, name the
// state's district, come at or after the state's newest checkpoint (the
// same one if it has the same number), and agree with every entry the
// state holds at the heads it names.
func (f *FSM) AdoptCheckpoint(c *checkpoint.Signed) error {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	s := c.Statement
	err := f.db.Update(func(tx *bolt.Tx) error {
		a := &applier{tx: tx, log: f.log}
		key := a.districtKey(s.District)
		if key == nil {
			return fmt.Errorf("%w: the state holds no key of district %s's chain to check checkpoint %d with", ErrCheckpoint, s.District, s.Number)
		}
		if _, err := checkpoint.Open(c.Text, c.Signature, key); err != nil {
			return fmt.Errorf("%w: checkpoint %d does not verify with the district chain's key %s: %w", ErrCheckpoint, s.Number, checkpoint.Fingerprint(key), err)
		}
		cps, err := tx.CreateBucketIfNotExists(bucketCheckpoints)
		if err != nil {
			return err
		}
		if last := cpstore.Latest(cps); last > 0 {
			prev, err := cpstore.At(cps, last)
			if err != nil {
				return err
			}
			p := prev.Statement
			switch {
			case p.Number == s.Number && p.Sum() == s.Sum():
				return nil // the backup already holds it
			case p.Number >= s.Number:
				return fmt.Errorf("%w: checkpoint %d is not after the backup's newest, %d: give the newest checkpoint the old cluster signed", ErrCheckpoint, s.Number, p.Number)
			case p.District != s.District:
				return fmt.Errorf("%w: checkpoint of district %s, the backup's are of %s", ErrCheckpoint, s.District, p.District)
			}
			// The chains the backup's checkpoint names must go on in this
			// one (Follows without the number and the link: the
			// checkpoints between are not at hand).
			for _, h := range p.Heads {
				n, ok := s.Head(h.Origin)
				if !ok || n.Seq < h.Seq || (n.Seq == h.Seq && n.Hash != h.Hash) {
					return fmt.Errorf("%w: checkpoint %d does not continue the chain of %s that the backup's checkpoint %d names at seq %d", ErrCheckpoint, s.Number, h.Origin, p.Number, h.Seq)
				}
			}
		}
		for _, h := range s.Heads {
			have, held, err := a.hashAt(h.Origin, h.Seq)
			if err != nil {
				return err
			}
			if held && have != h.Hash {
				return fmt.Errorf("%w: checkpoint %d names %s seq %d with hash %x, the backup holds %x there", ErrCheckpoint, s.Number, h.Origin, h.Seq, h.Hash[:8], have[:8])
			}
		}
		// Every head at this number (not only those that changed since the
		// backup's newest): its statement is rebuilt whole from them.
		rec := &clusterv1.Checkpoint{Number: s.Number, District: s.District, TimeUnixMs: s.Time.UnixMilli(),
			Prev: append([]byte(nil), s.Prev[:]...), Signature: c.Signature, PublicKey: key}
		for _, h := range s.Heads {
			rec.Changed = append(rec.Changed, &clusterv1.CheckpointHead{Origin: h.Origin, Seq: h.Seq, Hash: append([]byte(nil), h.Hash[:]...)})
		}
		if err := cpstore.Put(cps, s, rec); err != nil {
			return err
		}
		// Read back: the statement rebuilt from the state is the one signed.
		got, err := cpstore.At(cps, s.Number)
		if err != nil {
			return err
		}
		if !bytes.Equal(got.Text, c.Text) {
			return fmt.Errorf("%w: checkpoint %d read back differs from the one adopted", ErrCheckpoint, s.Number)
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.checkpointed = nil // LatestCheckpoint reads it again
	f.mu.Unlock()
	return nil
}
