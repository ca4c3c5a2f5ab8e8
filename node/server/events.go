package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/limits"
	"github.com/sanzi/sanzi/node/rest"
)

// alertEvents streams new alerts as Server-Sent Events (event "alert", data
// the AlertRecord in the API's JSON), for the web console and scripts; a
// comment line every 15 s keeps proxies from closing an idle stream. It
// needs a sign-in with the read permission, like WatchAlerts: only alerts
// of orgs in the account's scope are sent, masked by its roles.
func (n *Node) alertEvents(w http.ResponseWriter, r *http.Request) {
	p, ok := n.person(w, r, authz.PermRead)
	if !ok {
		return
	}
	org, severity := r.URL.Query().Get("org"), r.URL.Query().Get("severity")
	if org != "" && !p.Covers(org) {
		rest.WriteError(w, r, api.Status(fmt.Errorf("account of %s may not read alerts of %s: %w", p.Org, org, authz.ErrPermissionDenied)))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	var certs []*x509.Certificate
	if r.TLS != nil {
		certs = r.TLS.PeerCertificates
	}
	release, err := n.streams.Acquire(limits.ClientKey(r.RemoteAddr, certs))
	if err != nil {
		rest.WriteError(w, r, api.Status(err))
		return
	}
	defer release()
	// The stream outlives the server's read and write timeouts, which are
	// for ordinary requests.
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})); err != nil {
		n.log.Warn("alert stream keeps the server's timeouts", "err", err)
	}
	ch, stop := n.books.SubscribeAlerts()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": subscribed\n\n")
	flusher.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case a, ok := <-ch:
			if !ok {
				if !n.books.FeedClosed() {
					fmt.Fprint(w, "event: overflow\ndata: {}\n\n")
					flusher.Flush()
				}
				return
			}
			if !api.AlertMatches(a, org, severity) || !p.Covers(a.GetAlert().GetOrg()) {
				continue
			}
			b, err := protojson.Marshal(authz.Masked(p, a))
			if err != nil {
				n.log.Error("encode alert for the stream", "err", err)
				continue
			}
			fmt.Fprintf(w, "id: %s\nevent: alert\ndata: %s\n\n", a.GetEntry().GetId(), b)
		}
		flusher.Flush()
	}
}
