package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestAlertStreamCaps: one client may hold 3 alert streams, SSE and gRPC
// together; the 4th of either kind is refused (429 with Retry-After, or
// ResourceExhausted), and an SSE stream outlives the server's read and write
// timeouts.
func TestAlertStreamCaps(t *testing.T) {
	n := startTestNode(t, func(c *Config) {
		c.MaxAlertStreams, c.MaxAlertStreamsPerClient = 10, 3
		c.HTTPReadTimeout, c.HTTPWriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sse := func() (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", n.base+"/v1/alerts/stream", nil)
		return (&http.Client{Transport: bearer{token: n.token, next: &http.Transport{}}}).Do(req)
	}
	var open []*http.Response
	for i := range 2 {
		resp, err := sse()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d: %v %v", i, err, resp)
		}
		open = append(open, resp)
	}
	conn, err := grpc.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearerCreds(n.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	alerts := sanziv1.NewAlertServiceClient(conn)
	watch, err := alerts.WatchAlerts(ctx, &sanziv1.WatchAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatalf("the 3rd stream (gRPC) refused: %v", err)
	}
	t.Run("4th SSE stream", func(t *testing.T) {
		resp, err := sse()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("HTTP %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("4th gRPC stream", func(t *testing.T) {
		w, err := alerts.WatchAlerts(ctx, &sanziv1.WatchAlertsRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("got %v, want ResourceExhausted", err)
		}
	})
	t.Run("a stream outlives the timeouts", func(t *testing.T) {
		time.Sleep(800 * time.Millisecond) // past both server timeouts: the deadlines are what is tested
		person := strings.NewReplacer(`"amountFen":1007`, `"amountFen":200000`,
			`"name":"福州某建材有限公司","idNumber":"91350100M000100Y43"`, `"name":"林某某","idNumber":"11010519491231002X","bankAccount":"6228480012345678"`).Replace(validTx(7))
		if code, _, e := n.do(t, "POST", "/v1/transactions", "application/json", strings.NewReader(person), 0); code != 200 {
			t.Fatalf("record: %d %s", code, e.Message)
		}
		got := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(open[0].Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event: alert") {
					got <- sc.Text()
					return
				}
			}
			got <- "stream ended: " + fmt.Sprint(sc.Err())
		}()
		select {
		case ev := <-got:
			if ev != "event: alert" {
				t.Fatal(ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no alert on the stream")
		}
	})
	for _, r := range open {
		r.Body.Close()
	}
}
