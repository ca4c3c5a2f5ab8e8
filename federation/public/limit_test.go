package public

import (
	"net/http/httptest"
	"testing"
)

// TestClientAddr: a request is counted against its peer unless the peer
// is a trusted proxy, and then against the nearest untrusted hop it
// forwards for; a forged or broken header never moves the count to an
// address the sender chose.
func TestClientAddr(t *testing.T) {
	trusted, err := ParseProxies([]string{"10.0.0.0/8", "192.168.1.5", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct, no header", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"direct, forged header ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"through a trusted proxy", "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"the client's own claim before the proxy's is not taken", "10.1.2.3:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "192.168.1.5:80", []string{"198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"header split over two lines", "10.1.2.3:443", []string{"1.2.3.4", "198.51.100.2"}, "198.51.100.2"},
		{"a trusted proxy without a header counts as itself", "10.1.2.3:443", nil, "10.1.2.3"},
		{"a hop that does not parse counts as the proxy", "10.1.2.3:443", []string{"198.51.100.1, garbage"}, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3:443", []string{"10.4.4.4"}, "10.1.2.3"},
		{"IPv6 loopback proxy", "[::1]:8080", []string{"2001:db8::5"}, "2001:db8::5"},
		{"an untrusted neighbour of a trusted host", "192.168.1.6:80", []string{"198.51.100.1"}, "192.168.1.6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/public/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, trusted); got != c.want {
				t.Errorf("counted against %s, want %s", got, c.want)
			}
		})
	}
	if _, err := ParseProxies([]string{"10.0.0.0/8", "proxy.example"}); err == nil || err.Error() != `trusted proxy "proxy.example": neither an IP address nor a CIDR prefix` {
		t.Errorf("a name instead of an address: %v", err)
	}
}
