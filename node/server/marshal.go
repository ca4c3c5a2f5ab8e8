package server

import (
	"bytes"
	"fmt"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// rawMarshaler lets REST clients send and fetch attachments as raw bytes
// (Content-Type / Accept: application/octet-stream) instead of base64 inside
// JSON. Anything that is not attachment content falls back to JSON, so error
// bodies stay readable.
type rawMarshaler struct {
	json runtime.Marshaler
	max  int64
}

type hasContent interface{ GetContent() []byte }

func (m rawMarshaler) ContentType(v any) string {
	if _, ok := v.(hasContent); ok {
		return "application/octet-stream"
	}
	return m.json.ContentType(v)
}

func (m rawMarshaler) Marshal(v any) ([]byte, error) {
	if c, ok := v.(hasContent); ok {
		return c.GetContent(), nil
	}
	return m.json.Marshal(v)
}

func (m rawMarshaler) Unmarshal(data []byte, v any) error {
	if p, ok := v.(*[]byte); ok {
		*p = data
		return nil
	}
	return m.json.Unmarshal(data, v)
}

func (m rawMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		data, err := readAtMost(r, m.max)
		if err != nil {
			return err
		}
		return m.Unmarshal(data, v)
	})
}

func (m rawMarshaler) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := m.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

// readAtMost reads r whole if it holds at most max bytes. It reads in
// pieces and joins them only at the end, so a body cut at the limit never
// costs more than the limit (io.ReadAll's doubling would cost up to twice).
func readAtMost(r io.Reader, max int64) ([]byte, error) {
	const piece = 1 << 20
	var pieces [][]byte
	var total int64
	for {
		p := make([]byte, min(piece, max+1-total))
		n, err := io.ReadFull(r, p)
		pieces, total = append(pieces, p[:n]), total+int64(n)
		if total > max {
			return nil, fmt.Errorf("content: the attachment is larger than the limit of %d bytes", max)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return bytes.Join(pieces, nil), nil
		}
		if err != nil {
			return nil, fmt.Errorf("content: read request body: %w", err)
		}
	}
}
