package server

import (
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
		data, err := io.ReadAll(io.LimitReader(r, m.max+1))
		if err != nil {
			return fmt.Errorf("content: read request body: %w", err)
		}
		if int64(len(data)) > m.max {
			return fmt.Errorf("content: the attachment is larger than the limit of %d bytes", m.max)
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
