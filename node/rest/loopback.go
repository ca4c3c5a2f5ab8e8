package rest

import (
	"net"
	"net/http"
)

// FromLoopback says whether r came from this machine's loopback interface:
// the only clients some routes answer until people's accounts are wired
// (issue 12), since they hand out the node's keys or act with its
// certificate.
func FromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
