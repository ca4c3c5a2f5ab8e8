package chserver

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZScratch(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PORT %d", s.TCPPort())
	f, _ := os.Create("/tmp/chscratch/port")
	f.WriteString(s.Addr())
	f.Close()
	time.Sleep(20 * time.Minute)
	s.Close()
}
