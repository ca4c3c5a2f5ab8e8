package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
)

// Encoder writes a state as a flat run of varints and length-prefixed
// bytes. Each owner writes its fields in a fixed order and reads them back
// in the same order with a Decoder: no reflection, no field names, so that
// a state of a million entries encodes and decodes in a fraction of the
// time replaying them takes. The stamp, not the bytes, says which order.
type Encoder struct {
	buf []byte
	err error
}

// Data is what was written, or the first error (a message that did not
// marshal).
func (e *Encoder) Data() ([]byte, error) { return e.buf, e.err }

// Uint writes v.
func (e *Encoder) Uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

// Int writes v.
func (e *Encoder) Int(v int64) { e.buf = binary.AppendVarint(e.buf, v) }

// Bool writes v.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Float writes v.
func (e *Encoder) Float(v float64) { e.Uint(math.Float64bits(v)) }

// String writes s.
func (e *Encoder) String(s string) {
	e.Uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// Bytes writes b.
func (e *Encoder) Bytes(b []byte) {
	e.Uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// Time writes t to the nanosecond; the zero time stays zero. The zone is
// not kept: a restored time is UTC (every reader formats in its own zone).
func (e *Encoder) Time(t time.Time) {
	if t.IsZero() {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.Int(t.Unix())
	e.Uint(uint64(t.Nanosecond()))
}

// Set writes the keys of a set, sorted: the same state always writes the
// same bytes, so that two states compare by their encodings.
func (e *Encoder) Set(m map[string]bool) {
	e.Strings(slices.Sorted(maps.Keys(m)))
}

// Map writes a map of strings, sorted by key.
func (e *Encoder) Map(m map[string]string) {
	e.Uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.String(k)
		e.String(m[k])
	}
}

// Strings writes a list of strings.
func (e *Encoder) Strings(ss []string) {
	e.Uint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// Proto writes m (nil as absent).
func (e *Encoder) Proto(m proto.Message) {
	if m == nil || !m.ProtoReflect().IsValid() {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.Uint(uint64(proto.Size(m)))
	out, err := proto.MarshalOptions{UseCachedSize: true, Deterministic: true}.MarshalAppend(e.buf, m)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("encode %T: %w", m, err)
	}
	e.buf = out
}

// Decoder reads what an Encoder wrote, in the same order. The first
// problem sticks: later reads return zero values, and Err says what it was.
type Decoder struct {
	buf []byte
	err error
}

// NewDecoder reads b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err is the first problem met, nil if none.
func (d *Decoder) Err() error { return d.err }

// Done says whether every byte was read, and fails the decoder if not:
// the reader and the writer disagree about the state's layout.
func (d *Decoder) Done() error {
	if d.err == nil && len(d.buf) > 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.buf))
	}
	return d.err
}

var errShort = errors.New("state ends early")

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.buf = nil
}

// Uint reads an unsigned varint.
func (d *Decoder) Uint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Int reads a signed varint.
func (d *Decoder) Int() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Len reads a count, which can be no more than the bytes left (every
// element takes at least one), so that damage cannot ask for a huge
// allocation.
func (d *Decoder) Len() int {
	v := d.Uint()
	if v > uint64(len(d.buf)) {
		d.fail(fmt.Errorf("count %d is more than the %d bytes left", v, len(d.buf)))
		return 0
	}
	return int(v)
}

// Bool reads a bool.
func (d *Decoder) Bool() bool {
	if len(d.buf) == 0 {
		d.fail(errShort)
		return false
	}
	v := d.buf[0]
	d.buf = d.buf[1:]
	return v == 1
}

// Float reads a float64.
func (d *Decoder) Float() float64 { return math.Float64frombits(d.Uint()) }

// Bytes reads bytes; they alias the decoder's input.
func (d *Decoder) Bytes() []byte {
	n := d.Len()
	if d.err != nil {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// String reads a string.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Time reads a time (UTC; zero stays zero).
func (d *Decoder) Time() time.Time {
	if !d.Bool() {
		return time.Time{}
	}
	s := d.Int()
	ns := d.Uint()
	return time.Unix(s, int64(ns)).UTC()
}

// Strings reads a list of strings.
func (d *Decoder) Strings() []string {
	n := d.Len()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.String()
	}
	return out
}

// Set reads what Set wrote; every value is true.
func (d *Decoder) Set() map[string]bool {
	n := d.Len()
	m := make(map[string]bool, n)
	for range n {
		m[d.String()] = true
	}
	return m
}

// Map reads what Map wrote.
func (d *Decoder) Map() map[string]string {
	n := d.Len()
	m := make(map[string]string, n)
	for range n {
		k := d.String()
		m[k] = d.String()
	}
	return m
}

// Proto reads a message into m and says whether one was written (false:
// absent, m untouched).
func (d *Decoder) Proto(m proto.Message) bool {
	if !d.Bool() {
		return false
	}
	b := d.Bytes()
	if d.err != nil {
		return false
	}
	if err := proto.Unmarshal(b, m); err != nil {
		d.fail(fmt.Errorf("decode %T: %w", m, err))
		return false
	}
	return true
}

// ProtoBytes reads what Proto wrote without decoding it: the message's
// bytes (aliasing the decoder's input) and whether one was written, so that
// a reader may unmarshal many of them side by side.
func (d *Decoder) ProtoBytes() ([]byte, bool) {
	if !d.Bool() {
		return nil, false
	}
	b := d.Bytes()
	if d.err != nil {
		return nil, false
	}
	return b, true
}

// Section writes what fn writes as one part, length-prefixed, which a
// reader can take apart and decode on its own (in parallel with others).
func (e *Encoder) Section(fn func(*Encoder)) {
	var sub Encoder
	fn(&sub)
	if sub.err != nil && e.err == nil {
		e.err = sub.err
	}
	e.Bytes(sub.buf)
}

// Section reads a part Section wrote, as a decoder of its own.
func (d *Decoder) Section() *Decoder { return NewDecoder(d.Bytes()) }
