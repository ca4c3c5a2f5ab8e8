package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrPiece: a piece of an attachment arriving from a child does not follow
// what is held (wrong offset, past the size). The sender asks how much is
// held and goes on from there.
var ErrPiece = errors.New("attach: piece does not follow what is held")

// A parent receives a child's attachments in pieces over a link that may
// drop at any moment: the pieces go to a partial file under .partial/ that
// only ever grows, synced after each piece, so a resumed transfer starts
// where the last one stopped; the whole is checked against its hash before
// it joins the store.
func (s *Store) partialPath(h string) string { return filepath.Join(s.dir, ".partial", h) }

// Received says how many bytes of h are held and whether h is held whole.
func (s *Store) Received(h string) (int64, bool, error) {
	if !ValidHash(h) {
		return 0, false, fmt.Errorf("%w: %q", ErrBadHash, h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received(h)
}

func (s *Store) received(h string) (int64, bool, error) {
	if a, err := s.Describe(h); err == nil {
		return a.GetSize(), true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, false, err
	}
	fi, err := os.Stat(s.partialPath(h))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("partial attachment %s: %w", h, err)
	}
	return fi.Size(), false, nil
}

// AddPiece appends data at offset to the partial copy of h (size bytes in
// all), sent by origin. When the last piece arrives the whole is checked
// against h and stored, charged to origin; a whole that does not match is
// dropped (ErrHashMismatch) so the next try starts from nothing. A piece of
// something held whole is a no-op. The first piece of an attachment that
// would take origin past its quota is refused with ErrQuota.
func (s *Store) AddPiece(origin, h string, offset, size int64, data []byte, fileName, contentType string) (received int64, complete bool, err error) {
	if !ValidHash(h) {
		return 0, false, fmt.Errorf("%w: %q", ErrBadHash, h)
	}
	if size <= 0 || size > s.maxSize {
		return 0, false, fmt.Errorf("%w: %s is %d bytes, the limit is %d bytes", ErrTooLarge, h, size, s.maxSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held, whole, err := s.received(h)
	switch {
	case err != nil:
		return 0, false, err
	case whole:
		return held, true, nil
	case offset != held:
		return held, false, fmt.Errorf("%w: %s: a piece at offset %d, but %d bytes are held", ErrPiece, h, offset, held)
	case len(data) == 0 || offset+int64(len(data)) > size:
		return held, false, fmt.Errorf("%w: %s: a piece of %d bytes at %d does not fit a size of %d", ErrPiece, h, len(data), offset, size)
	case held == 0 && origin != "":
		used, err := s.Usage(origin)
		if err != nil {
			return 0, false, err
		}
		if err := QuotaCheck(origin, s.Policy().Quota, used, size); err != nil {
			return 0, false, err
		}
	}
	p := s.partialPath(h)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return held, false, fmt.Errorf("store a piece of %s: %w", h, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return held, false, fmt.Errorf("store a piece of %s: %w", h, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// A torn write leaves the file longer than the last good piece:
		// cut it back so the offsets stay true.
		os.Truncate(p, held)
		return held, false, fmt.Errorf("store a piece of %s: %w", h, werr)
	}
	held += int64(len(data))
	if held < size {
		return held, false, nil
	}
	content, err := readVerified(p, h, size)
	if errors.Is(err, ErrHashMismatch) {
		os.Remove(p)
		return 0, false, fmt.Errorf("%w: the content received does not hash to %s; it was dropped", ErrHashMismatch, h)
	}
	if err != nil {
		return 0, false, err
	}
	if _, err := s.put(content, h, fileName, contentType, origin); err != nil {
		return held, false, err
	}
	os.Remove(p)
	return size, true, nil
}
