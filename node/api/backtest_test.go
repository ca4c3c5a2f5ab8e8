package api_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
)

// TestBacktestOrigins: a backtest reads only the chains the signed-in
// account covers, narrowed by the request's org; none left is NotFound.
func TestBacktestOrigins(t *testing.T) {
	held := []string{"350505100202", "350505000000", "350505100201", "350505110201", "350505100000", "350506100201"}
	as := func(org string) context.Context {
		return authz.NewContext(context.Background(), authz.Principal{Account: "x", Org: org})
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		org  string
		want string
	}{
		{"a district officer: the district's chains", as("350505000000"), "", "[350505000000 350505100000 350505100201 350505100202 350505110201]"},
		{"narrowed to a town", as("350505000000"), "350505100000", "[350505100000 350505100201 350505100202]"},
		{"narrowed to a village", as("350505000000"), "350505100202", "[350505100202]"},
		{"a town account", as("350505100000"), "", "[350505100000 350505100201 350505100202]"},
		{"a village account", as("350505100201"), "", "[350505100201]"},
		{"the node's own work", context.Background(), "", "[350505000000 350505100000 350505100201 350505100202 350505110201 350506100201]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := api.BacktestOrigins(tc.ctx, tc.org, held)
			if err != nil || fmt.Sprint(got) != tc.want {
				t.Fatalf("%v %v, want %s", got, err, tc.want)
			}
		})
	}
	if _, err := api.BacktestOrigins(as("350505100201"), "", []string{"350505100202"}); status.Code(err) != codes.NotFound {
		t.Fatalf("no chain in scope: %v, want NotFound", err)
	}
}
