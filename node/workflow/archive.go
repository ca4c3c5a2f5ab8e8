package workflow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Archive keeps a Flows' closed procedures in the node's bbolt file
// instead of its memory (issue 17): a closed procedure never changes
// again, and most of a long history is closed, so a start that decoded
// every one of them into memory cost what the history holds, and so did
// every list of procedures.
//
// What it holds is written only with a checkpoint (Batch.Write, in the
// checkpoint's own bbolt transaction): the closed procedures of the state
// the checkpoint encodes, which encodes the open ones. The archive and
// the checkpoint therefore always reflect the same chain positions; a
// start that does not use the checkpoint (stale, damaged, not matching
// the chains) clears the archive in the transaction that drops it
// (Clear), and the replay fills both again.
//
// Inside its bucket (ArchiveBucket):
//
//	p: entry key → the procedure (encodeProc)
//	i: fields(org, status, matter) + entry key → nothing, each field
//	   also "" (any), so that every combination a list filters by is one
//	   prefix, in entry-key order
//	d: fields(matter, period) + entry key → nothing (CheckOpen's and the
//	   bank reconciliation's months)
//	n: fields(org, status, matter) → how many procedures "i" holds
//	   under that prefix (8 bytes, big endian): a list's total
//
// TODO(issue 17): eight index keys a procedure (every combination of org,
// status and matter with "any") are most of the archive's bytes: about
// 116 MB in use for the 119,495 procedures of a 1M-entry village, beside
// the 46 MB checkpoint. Fewer combinations (a list without an org is a
// town's only) would halve it.
type Archive struct {
	db     *bolt.DB
	bucket []byte
}

// ArchiveBucket is the top-level bucket of the archive named name.
func ArchiveBucket(name string) []byte { return []byte("workflow-archive/" + name) }

// NewArchive is the archive named name in db: the node's own procedures
// and those its tier holds (a town's villages') each have their own.
func NewArchive(db *bolt.DB, name string) *Archive {
	return &Archive{db: db, bucket: ArchiveBucket(name)}
}

// Clear forgets every procedure archived, in tx: the caller drops the
// checkpoint the archive goes with in the same transaction.
func (a *Archive) Clear(tx *bolt.Tx) error {
	if tx.Bucket(a.bucket) == nil {
		return nil
	}
	if err := tx.DeleteBucket(a.bucket); err != nil {
		return fmt.Errorf("clear the archive of closed procedures %s: %w", a.bucket, err)
	}
	return nil
}

var (
	subProcs  = []byte("p")
	subIndex  = []byte("i")
	subPeriod = []byte("d")
	subCounts = []byte("n")
)

// fields is a prefix of the archive's indexes: each field with its length
// first, so that no two lists of fields give the same bytes.
func fields(fs ...string) []byte {
	var k []byte
	for _, f := range fs {
		k = append(k, byte(len(f)))
		k = append(k, f...)
	}
	return k
}

// indexPrefixes are the prefixes of "i" and "n" a procedure is under:
// every combination of its org, status and matter with "any".
func indexPrefixes(org, status, matter string) [][]byte {
	out := make([][]byte, 0, 8)
	for _, o := range []string{"", org} {
		for _, s := range []string{"", status} {
			for _, m := range []string{"", matter} {
				out = append(out, fields(o, s, m))
			}
		}
	}
	return out
}

// archived is one closed procedure ready to be archived.
type archived struct {
	key, val                    []byte
	org, status, matter, period string
}

// Batch is the closed procedures a checkpoint leaves to the archive: Save
// staged them (Flows.Staged hands them over); the checkpoint writes them
// in its transaction (Write) and, once it committed, they leave the
// Flows' memory (Done).
type Batch struct {
	f    *Flows
	recs []archived
	// procs are the procedures of recs, one each: Done forgets them
	// and no other.
	procs []*Proc
}

// Len is how many procedures the batch archives.
func (b *Batch) Len() int { return len(b.recs) }

// Write puts the batch in the archive, in tx. A procedure archived
// already (by a batch written before whose Done has not run yet) is left
// as it is, so that its counts stay true.
func (b *Batch) Write(tx *bolt.Tx) error {
	if len(b.recs) == 0 {
		return nil
	}
	root, err := tx.CreateBucketIfNotExists(b.f.archive.bucket)
	if err != nil {
		return fmt.Errorf("archive closed procedures: %w", err)
	}
	var sub [4]*bolt.Bucket
	for i, name := range [][]byte{subProcs, subIndex, subPeriod, subCounts} {
		if sub[i], err = root.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("archive closed procedures: %w", err)
		}
	}
	procs, index, period, counts := sub[0], sub[1], sub[2], sub[3]
	// Keys come in order within each prefix, after what it holds (a
	// chain's seqs only grow): pages are filled rather than split half
	// empty, which at bbolt's default left the archive of a 1M-entry
	// village at twice the bytes it holds.
	for _, b := range sub {
		b.FillPercent = 0.95
	}
	// Each bucket's keys are put in order: bbolt appends rather than
	// splits pages.
	var idx, per [][]byte
	delta := map[string]uint64{}
	for _, r := range b.recs {
		if procs.Get(r.key) != nil {
			continue
		}
		if err := procs.Put(r.key, r.val); err != nil {
			return fmt.Errorf("archive procedure: %w", err)
		}
		for _, p := range indexPrefixes(r.org, r.status, r.matter) {
			idx = append(idx, append(p, r.key...))
			delta[string(p)]++
		}
		if r.period != "" {
			per = append(per, append(fields(r.matter, r.period), r.key...))
		}
	}
	for _, l := range []struct {
		b    *bolt.Bucket
		keys [][]byte
	}{{index, idx}, {period, per}} {
		slices.SortFunc(l.keys, bytes.Compare)
		for _, k := range l.keys {
			if err := l.b.Put(k, nil); err != nil {
				return fmt.Errorf("index archived procedure: %w", err)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(delta)) {
		n := delta[p] + count(counts.Get([]byte(p)))
		if err := counts.Put([]byte(p), binary.BigEndian.AppendUint64(nil, n)); err != nil {
			return fmt.Errorf("count archived procedures: %w", err)
		}
	}
	return nil
}

func count(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Done drops from the Flows' memory the procedures of a batch its
// checkpoint committed: they are read from the archive from now on. The
// caller holds what serialises the Flows.
func (b *Batch) Done() {
	for _, p := range b.procs {
		b.f.forget(p)
	}
}

// stage makes the batch of the closed procedures in memory, oldest
// first, and marks them batched (a list then reads them from the
// archive once it holds them); left are those that failed to encode.
func (f *Flows) stage(closed []*Proc, from map[*sanziv1.Matter]string) (b *Batch, left []*Proc) {
	b = &Batch{f: f, procs: make([]*Proc, 0, len(closed))}
	for _, p := range closed {
		var e checkpoint.Encoder
		encodeProc(&e, p, from[p.Matter])
		val, err := e.Data()
		if err != nil {
			// A procedure entry that unmarshalled marshals, so this
			// should not happen; if it does, the procedure is neither
			// archived nor in the batch, so Done keeps it in memory
			// (listed and read from there), and Save fails the
			// checkpoint with it rather than lose it at the next start.
			left = append(left, p)
			continue
		}
		p.batched = true
		b.procs = append(b.procs, p)
		b.recs = append(b.recs, archived{key: ledger.IDKey(p.ID), val: val, org: p.P.GetOrg(), status: string(p.Status),
			matter: p.P.GetMatterCode(), period: p.P.GetPeriod()})
	}
	return b, left
}

// encodeProc writes p as Save and the archive keep it. A step's code,
// name and post are its matter's and are not written; its times and
// status are.
func encodeProc(e *checkpoint.Encoder, p *Proc, catalog string) {
	e.String(p.ID)
	e.Proto(p.P)
	e.String(catalog)
	e.String(p.Matter.GetCode())
	e.Time(p.Opened)
	e.Time(p.Deadline)
	e.String(string(p.Status))
	e.Int(int64(p.Step))
	if p.packed == nil {
		e.Section(p.packSteps)
	} else {
		e.Bytes(p.packed) // restored closed and never read since: as it was
	}
}

// decodeProc reads what encodeProc wrote, its steps left packed, with the
// catalogs it may follow.
func decodeProc(d *checkpoint.Decoder, catalogs map[string]*sanziv1.Catalog) (*Proc, error) {
	p := &Proc{ID: d.String(), P: &sanziv1.Procedure{}}
	d.Proto(p.P)
	ver, code := d.String(), d.String()
	for _, m := range catalogs[ver].GetMatters() {
		if m.GetCode() == code {
			p.Matter = m
		}
	}
	if d.Err() == nil && p.Matter == nil {
		return nil, fmt.Errorf("workflow state: procedure %s follows matter %s of catalog %q, which is not saved", p.ID, code, ver)
	}
	p.Opened, p.Deadline = d.Time(), d.Time()
	p.Status, p.Step = Status(d.String()), int(d.Int())
	p.packed = bytes.Clone(d.Bytes()) // not the whole state's buffer, kept alive by it
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("workflow state: %w", err)
	}
	return p, nil
}

// archivedGet reads the procedure under key from the archive, nil when it
// holds none; its steps are unpacked.
func (f *Flows) archivedGet(tx *bolt.Tx, key []byte) (*Proc, error) {
	root := tx.Bucket(f.archive.bucket)
	if root == nil {
		return nil, nil
	}
	v := root.Bucket(subProcs).Get(key)
	if v == nil {
		return nil, nil
	}
	d := checkpoint.NewDecoder(v)
	p, err := decodeProc(d, f.catalogs)
	if err == nil {
		err = d.Done()
	}
	if err == nil {
		err = p.unpack()
	}
	if err != nil {
		return nil, fmt.Errorf("archived procedure %s: %w", key, err)
	}
	return p, nil
}

// archivedHas says whether the archive holds the procedure under key.
func (f *Flows) archivedHas(tx *bolt.Tx, key []byte) bool {
	root := tx.Bucket(f.archive.bucket)
	return root != nil && root.Bucket(subProcs).Get(key) != nil
}

// canBeClosed says whether fl can select a closed procedure: a status of
// open, or a post (only an open step has one), selects none.
func (fl Filter) canBeClosed() bool { return fl.Status != StatusOpen && fl.Post == "" }

// archivedScan calls yield with the archived procedures fl selects whose
// key is after after (every one when nil), in key order, until it returns
// false. A filter with a period reads the period's index (a few per
// month) and decodes each to match the rest; any other reads the index of
// its org, status and matter and decodes only what it yields.
func (f *Flows) archivedScan(tx *bolt.Tx, fl Filter, after []byte, yield func(key []byte, p *Proc) bool) error {
	root := tx.Bucket(f.archive.bucket)
	if root == nil || !fl.canBeClosed() {
		return nil
	}
	var prefix []byte
	var c *bolt.Cursor
	exact := fl.Period == ""
	if fl.Period != "" && fl.Matter != "" {
		prefix, c = fields(fl.Matter, fl.Period), root.Bucket(subPeriod).Cursor()
	} else {
		prefix, c = fields(fl.Org, string(fl.Status), fl.Matter), root.Bucket(subIndex).Cursor()
	}
	procs := root.Bucket(subProcs)
	k, _ := c.Seek(append(slices.Clip(prefix), after...))
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		key := k[len(prefix):]
		if after != nil && bytes.Compare(key, after) <= 0 {
			continue
		}
		d := checkpoint.NewDecoder(procs.Get(key))
		p, err := decodeProc(d, f.catalogs)
		if err != nil {
			return fmt.Errorf("archived procedure %x: %w", key, err)
		}
		if !exact && !fl.matches(p) {
			continue
		}
		if !yield(key, p) {
			return nil
		}
	}
	return nil
}

// archivedCount is how many archived procedures fl selects: the counter
// kept beside the index, or (a filter with a period) the period's index
// walked.
func (f *Flows) archivedCount(tx *bolt.Tx, fl Filter) (int, error) {
	root := tx.Bucket(f.archive.bucket)
	if root == nil || !fl.canBeClosed() {
		return 0, nil
	}
	if fl.Period == "" {
		return int(count(root.Bucket(subCounts).Get(fields(fl.Org, string(fl.Status), fl.Matter)))), nil
	}
	n := 0
	err := f.archivedScan(tx, fl, nil, func([]byte, *Proc) bool { n++; return true })
	return n, err
}
