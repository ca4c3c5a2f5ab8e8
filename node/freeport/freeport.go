// Package freeport hands tests loopback ports that stay free until they
// are bound. A port from the kernel's ephemeral range (what listening on
// port 0 gives) can be taken by any outgoing connection between the moment
// it is handed out and the moment a test's server binds it, or while a
// server killed with SIGKILL is restarted on it; that made cluster and
// end-to-end tests fail now and then with "address already in use". These
// ports come from below that range, each once per process.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// handedOut are the ports given in this process, so none is given twice.
var handedOut sync.Map

// Loopback returns "127.0.0.1:PORT" with a port that was free just now,
// below the ephemeral range, not handed out before in this process.
func Loopback(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux;
// 32768 when it cannot be read).
func ephemeralLow() int {
	low := 32768
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(raw)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	return low
}
