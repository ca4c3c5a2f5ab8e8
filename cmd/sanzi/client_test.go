package main

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestExplain: the hint to start a node follows an Unavailable status, told
// by its code, and no other.
func TestExplain(t *testing.T) {
	const hint = "is a node running at localhost:7000?"
	for _, c := range []struct {
		name     string
		err      error
		want     string
		wantHint bool
	}{
		{"unavailable", status.Error(codes.Unavailable, "connection refused"), "sanzi: connection refused (Unavailable)", true},
		{"not found", status.Error(codes.NotFound, "Unavailable is only a word here"), "sanzi: Unavailable is only a word here (NotFound)", false},
		{"not a status", errors.New("plain"), "plain", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := explain("localhost:7000", c.err).Error()
			if !strings.HasPrefix(got, c.want) || strings.Contains(got, hint) != c.wantHint {
				t.Fatalf("explain = %q, want it to start %q and hint %v", got, c.want, c.wantHint)
			}
		})
	}
	if explain("x", nil) != nil {
		t.Fatal("explain(nil) is not nil")
	}
}
