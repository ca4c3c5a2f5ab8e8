package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// startCPUProfile profiles the process's CPU into path when path is not
// empty (SANZI_CPUPROFILE, see the root command's help): on each SIGUSR1
// and when the returned stop is called, the profile of the span since the
// previous write is written: to path the first time, then to path.2,
// path.3, … (a CPU profile cannot be read while it runs, so each write
// stops it and starts a new one). It is opt-in and off by default; it exists because the costs of
// a node under sync (issue 17) only show in the processes a test starts.
func startCPUProfile(ctx context.Context, path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	path = strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))
	var (
		mu     sync.Mutex
		buf    bytes.Buffer // the profile since the last write: pprof writes it when stopped
		writes int
	)
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return nil, fmt.Errorf("SANZI_CPUPROFILE: start the CPU profile: %w", err)
	}
	// write stops the profile, writes what it holds, and with again
	// starts a new one.
	write := func(again bool) {
		mu.Lock()
		defer mu.Unlock()
		pprof.StopCPUProfile()
		writes++
		to := path
		if writes > 1 {
			to += "." + strconv.Itoa(writes)
		}
		// Renamed into place, so that a reader never sees half a profile.
		if err := os.WriteFile(to+".tmp", buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "sanzi: SANZI_CPUPROFILE:", err)
		} else if err := os.Rename(to+".tmp", to); err != nil {
			fmt.Fprintln(os.Stderr, "sanzi: SANZI_CPUPROFILE:", err)
		}
		buf.Reset()
		if again {
			if err := pprof.StartCPUProfile(&buf); err != nil {
				fmt.Fprintln(os.Stderr, "sanzi: SANZI_CPUPROFILE: start the CPU profile again:", err)
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				write(true)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sig)
			close(done)
			write(false)
		})
	}, nil
}
