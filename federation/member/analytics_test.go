package member

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRuns stands in for loader runs and counts how many run at once.
type fakeRuns struct {
	t       *testing.T
	running atomic.Int32
	started chan int // the number of each run as it starts
	runs    atomic.Int32
	// hang makes run 1 ignore its context until closed: a ClickHouse read
	// the driver ends only at its deadline.
	hang chan struct{}
	// linger is how long a run takes to return once cancelled.
	linger time.Duration
}

func (f *fakeRuns) run(ctx context.Context) {
	n := int(f.runs.Add(1))
	if f.running.Add(1) > 1 {
		f.t.Errorf("run %d started while another run was still running: two loaders insert the same batches", n)
	}
	defer f.running.Add(-1)
	f.started <- n
	if n == 1 && f.hang != nil {
		<-f.hang
		return
	}
	<-ctx.Done()
	time.Sleep(f.linger)
}

func newTestAnalytics(f *fakeRuns, wait time.Duration) *analytics {
	a := &analytics{m: &Member{log: slog.New(slog.DiscardHandler)}, wait: wait, quit: make(chan struct{})}
	a.run = f.run
	return a
}

// within runs fn and reports an error when it does not return in d (the
// test then ends; fn's goroutine is left behind). Safe from any goroutine.
func within(t *testing.T, d time.Duration, what string, fn func()) (time.Duration, bool) {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return time.Since(start), true
	case <-time.After(d):
		t.Errorf("%s did not return within %s", what, d)
		return 0, false
	}
}

func waitStarted(t *testing.T, f *fakeRuns, want int) {
	t.Helper()
	select {
	case n := <-f.started:
		if n != want {
			t.Fatalf("run %d started, want run %d", n, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("run %d never started", want)
	}
}

// TestAnalyticsStopIsBounded: a loader run that does not return when
// cancelled (blocked in a ClickHouse read, or in a Raft apply that never
// resolves) must not hold the member's shutdown: stop gives up after its
// bound. A new leadership term must not start a second run beside it.
func TestAnalyticsStopIsBounded(t *testing.T) {
	f := &fakeRuns{t: t, started: make(chan int, 4), hang: make(chan struct{})}
	const wait = 200 * time.Millisecond
	a := newTestAnalytics(f, wait)
	a.start()
	waitStarted(t, f, 1)

	took, ok := within(t, 5*time.Second, "stop with a run that ignores its context", a.stop)
	if !ok {
		t.FailNow()
	}
	if took < wait {
		t.Fatalf("stop returned after %s: it should have waited %s for the run", took, wait)
	}
	// Leadership comes back while run 1 is still stuck: run 2 waits for it.
	a.start()
	select {
	case n := <-f.started:
		t.Fatalf("run %d started while run 1 had not returned", n)
	case <-time.After(100 * time.Millisecond):
	}
	close(f.hang)
	waitStarted(t, f, 2)
	if _, ok := within(t, 5*time.Second, "shutdown", a.shutdown); !ok {
		t.FailNow()
	}
	if n := f.running.Load(); n != 0 {
		t.Fatalf("%d runs still running after shutdown", n)
	}
	// After shutdown nothing starts again (a late leadership notification).
	a.start()
	select {
	case n := <-f.started:
		t.Fatalf("run %d started after shutdown", n)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestAnalyticsConcurrentStopsBothWait: on SIGTERM the leadership watch
// (its context ended) and Member.Stop stop the loader at the same time.
// Both must wait for the run: the one that did not cancel it would
// otherwise go on to shut raft and the FSM down under a running loader.
func TestAnalyticsConcurrentStopsBothWait(t *testing.T) {
	f := &fakeRuns{t: t, started: make(chan int, 4), linger: 150 * time.Millisecond}
	a := newTestAnalytics(f, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	leadership := make(chan bool, 1)
	go a.watch(ctx, leadership)
	leadership <- true
	waitStarted(t, f, 1)

	var wg sync.WaitGroup
	wg.Add(2)
	check := func() {
		if n := f.running.Load(); n != 0 {
			t.Errorf("a stop returned while %d run(s) still ran", n)
		}
	}
	go func() {
		defer wg.Done()
		if _, ok := within(t, 5*time.Second, "shutdown", a.shutdown); ok {
			check()
		}
	}()
	go func() {
		defer wg.Done()
		cancel() // the watch stops the loader too
		for a.running() {
			time.Sleep(time.Millisecond)
		}
		if _, ok := within(t, 5*time.Second, "stop", a.stop); ok {
			check()
		}
	}()
	wg.Wait()
}

// TestAnalyticsFollowsLeadership: leadership gained starts a run, gained
// again (lost and regained in between, the loss not seen) restarts it, lost
// stops it.
func TestAnalyticsFollowsLeadership(t *testing.T) {
	f := &fakeRuns{t: t, started: make(chan int, 4)}
	a := newTestAnalytics(f, 5*time.Second)
	leadership := make(chan bool, 1)
	go a.watch(context.Background(), leadership)
	defer a.shutdown()
	leadership <- true
	waitStarted(t, f, 1)
	leadership <- true
	waitStarted(t, f, 2)
	leadership <- false
	deadline := time.Now().Add(5 * time.Second)
	for f.running.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the run did not stop when leadership was lost")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running reports whether a run has been started and not stopped.
func (a *analytics) running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cancel != nil
}
