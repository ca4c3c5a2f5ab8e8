package rest

import (
	"net/http"
	"time"
)

// Timeouts of a REST server. Reading a request and writing its answer may
// each take 5 minutes: a 16 MiB attachment over a slow village line. A
// kept-alive connection with no request is closed after 2 minutes, and the
// headers must arrive within 10 s, so idle or trickling clients do not hold
// connections. Long-lived streams (SSE) lift the read and write deadlines
// for themselves with http.ResponseController.
const (
	DefaultReadTimeout  = 5 * time.Minute
	DefaultWriteTimeout = 5 * time.Minute
	DefaultIdleTimeout  = 2 * time.Minute
	readHeaderTimeout   = 10 * time.Second
)

// NewServer is an HTTP server for h with the given timeouts (<= 0: the
// default of each).
func NewServer(h http.Handler, read, write, idle time.Duration) *http.Server {
	def := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       def(read, DefaultReadTimeout),
		WriteTimeout:      def(write, DefaultWriteTimeout),
		IdleTimeout:       def(idle, DefaultIdleTimeout),
	}
}
