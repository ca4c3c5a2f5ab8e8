package limits

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRecoveryFailsOnlyTheCall(t *testing.T) {
	var logged bytes.Buffer
	r := recoverer{log: slog.New(slog.NewTextHandler(&logged, nil))}
	var nilErr error
	cases := []struct {
		name    string
		handler func() (any, error)
		code    codes.Code
		resp    any
	}{
		{"nil dereference", func() (any, error) { return nilErr.Error(), nil }, codes.Internal, nil},
		{"explicit panic", func() (any, error) { panic("boom") }, codes.Internal, nil},
		{"no panic", func() (any, error) { return "ok", nil }, codes.OK, "ok"},
		{"handler error kept", func() (any, error) { return nil, status.Error(codes.NotFound, "no such") }, codes.NotFound, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := &grpc.UnaryServerInfo{FullMethod: "/sanzi.v1.Test/" + strings.ReplaceAll(c.name, " ", "")}
			resp, err := r.unary(context.Background(), nil, info, func(context.Context, any) (any, error) { return c.handler() })
			if status.Code(err) != c.code || resp != c.resp {
				t.Fatalf("got %v, %v; want %v, code %v", resp, err, c.resp, c.code)
			}
			serr := r.stream(nil, nil, &grpc.StreamServerInfo{FullMethod: info.FullMethod}, func(any, grpc.ServerStream) error {
				_, err := c.handler()
				return err
			})
			if status.Code(serr) != c.code {
				t.Fatalf("stream: %v, want code %v", serr, c.code)
			}
		})
	}
	if n := strings.Count(logged.String(), "panic in an RPC handler"); n != 4 {
		t.Fatalf("logged %d panics, want 4 (two cases, unary and stream):\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "stack=") {
		t.Fatal("the panic's stack is not logged")
	}
}
