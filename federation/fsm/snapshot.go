package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Snapshot stream format: a header, then the bbolt file as of the snapshot.
const (
	snapshotMagic   = "SANZIFSM"
	snapshotVersion = 1
	headerSize      = len(snapshotMagic) + 4 + 8 + 8 // magic, version, applied, size
)

// Snapshot captures the state as of the last applied index by beginning a
// bbolt read transaction; raft calls it on the FSM goroutine, so no Apply is
// half done. The copy happens in Persist, concurrently with later Applies,
// which the read transaction does not see. Restore of the same FSM waits
// until the snapshot is released.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if f.db == nil {
		return nil, ErrClosed
	}
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot fsm state: %w", err)
	}
	return &fsmSnapshot{tx: tx, applied: getUint(tx.Bucket(bucketMeta), keyApplied)}, nil
}

// fsmSnapshot is one consistent view of the state file, held open until
// raft releases it.
type fsmSnapshot struct {
	tx      *bolt.Tx
	applied uint64
}

// Persist writes the header and the file as of the snapshot to sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, snapshotMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, snapshotVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, s.applied)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(s.tx.Size()))
	err := func() error {
		if _, err := sink.Write(hdr); err != nil {
			return err
		}
		_, err := s.tx.WriteTo(sink)
		return err
	}()
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist fsm snapshot at index %d: %w", s.applied, err)
	}
	return sink.Close()
}

// Release ends the read transaction, letting bbolt reuse the pages it kept.
func (s *fsmSnapshot) Release() { _ = s.tx.Rollback() }

// Restore replaces the whole state with a snapshot stream: it writes the
// file beside Path, checks it, and renames it over Path, so a crash at any
// point leaves either the old state or the new one. A bad stream returns an
// error and leaves the old state in place. Reads wait during the swap.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var hdr [headerSize]byte
	if _, err := io.ReadFull(rc, hdr[:]); err != nil {
		return fmt.Errorf("restore fsm: read snapshot header: %w", err)
	}
	if string(hdr[:8]) != snapshotMagic {
		return fmt.Errorf("restore fsm: not a sanzi fsm snapshot (magic %q)", hdr[:8])
	}
	if v := binary.BigEndian.Uint32(hdr[8:12]); v != snapshotVersion {
		return fmt.Errorf("restore fsm: snapshot format version %d, this binary reads %d", v, snapshotVersion)
	}
	applied, size := binary.BigEndian.Uint64(hdr[12:20]), binary.BigEndian.Uint64(hdr[20:28])

	tmp, err := f.receive(rc, applied, int64(size))
	if err != nil {
		return fmt.Errorf("restore fsm: %w", err)
	}
	f.dbMu.Lock()
	defer f.dbMu.Unlock()
	if f.db != nil {
		if err := f.db.Close(); err != nil {
			f.log.Error("close state file before restore", "err", err)
		}
		f.db = nil
	}
	if err := os.Rename(tmp, f.cfg.Path); err != nil {
		_ = os.Remove(tmp)
		// Nothing changed on disk: go back to the old file.
		if db, oerr := f.openDB(); oerr == nil {
			f.db = db
		}
		return fmt.Errorf("restore fsm: replace state file: %w", err)
	}
	if err := syncDir(filepath.Dir(f.cfg.Path)); err != nil {
		f.log.Warn("fsync state directory after restore", "err", err)
	}
	db, err := f.openDB()
	if err != nil {
		return fmt.Errorf("restore fsm: reopen: %w", err)
	}
	f.db = db
	f.log.Info("restored fsm state from snapshot", "applied", applied, "bytes", size)
	return nil
}

// receive streams size bytes of bbolt file into a synced temp file beside
// Path and checks that it opens and is at the header's applied index.
func (f *FSM) receive(r io.Reader, applied uint64, size int64) (path string, err error) {
	tf, err := os.CreateTemp(filepath.Dir(f.cfg.Path), filepath.Base(f.cfg.Path)+".restore-*")
	if err != nil {
		return "", err
	}
	path = tf.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	n, err := io.CopyN(tf, r, size)
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return path, fmt.Errorf("receive state file (%d of %d bytes): %w", n, size, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return path, fmt.Errorf("received state file does not open: %w", err)
	}
	var got uint64
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketChains) == nil {
			return errors.New("received state file lacks the fsm buckets")
		}
		got = getUint(meta, keyApplied)
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil && got != applied {
		err = fmt.Errorf("received state file is at index %d, header says %d", got, applied)
	}
	return path, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
