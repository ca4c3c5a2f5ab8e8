package supervise_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// faultDirEnv, when set, makes TestCheckpointFaultChild the recording
// process TestKilledWhileRecordingRestartsAsAFullReplay kills.
const faultDirEnv = "SANZI_CHECKPOINT_FAULT_DIR"

// TestKilledWhileRecordingRestartsAsAFullReplay kills (SIGKILL) a process
// recording a village's business with checkpoints written every few dozen
// entries, at a random moment, six times over the same folder. After each
// kill the folder is copied: one copy starts from its checkpoint (which
// must load: never ahead of the entries, never inconsistent with them),
// the other replays every chain from seq 1, and both must hold the same
// state and find the same cards and alerts. Loopback only, bounded: each
// child stops by itself after ten seconds.
func TestKilledWhileRecordingRestartsAsAFullReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(17, uint64(time.Now().UnixNano())))
	checkpoints := 0
	for round := range 6 {
		t.Run(fmt.Sprintf("kill %d", round+1), func(t *testing.T) {
			written := killChild(t, dir, time.Duration(300+rnd.IntN(1200))*time.Millisecond)
			checkpoints += written

			clock := &fakeClock{t: lastRecorded(t, dir).Add(24 * time.Hour)}
			full := t.TempDir()
			copyDir(t, dir, full)
			var log bytes.Buffer
			restored, closeRestored := openCkVillage(t, dir, clock, withCheckpoints(&log))
			defer closeRestored()
			if written > 0 || round > 0 {
				if !strings.Contains(log.String(), "restored from its checkpoint") || strings.Contains(log.String(), "rebuilding") {
					t.Fatalf("the checkpoint left by the killed process was not used:\n%s", log.String())
				}
			}
			replayed, closeReplayed := openCkVillage(t, full, clock)
			defer closeReplayed()
			sameState(t, "after the kill", restored, replayed)
			a, errA := restored.Sweep(ctx, clock.Now())
			b, errB := replayed.Sweep(ctx, clock.Now())
			if errA != nil || errB != nil {
				t.Fatalf("sweep: %v / %v", errA, errB)
			}
			if fa, fb := findings(a), findings(b); !slices.Equal(fa, fb) {
				t.Fatalf("after the kill the timers find\n%s\nfrom the checkpoint and\n%s\nafter a full replay", strings.Join(fa, "\n"), strings.Join(fb, "\n"))
			}
			sameState(t, "after the timers ran", restored, replayed)
			st, _, _ := supervise.StateOf(restored.Supervisor)
			t.Logf("killed after %d checkpoints; the chain holds %d entries, the state %d bytes", written, restored.Ledger().Head(benchOrg).Seq, len(st))
		})
	}
	if checkpoints == 0 {
		t.Fatal("the children wrote no checkpoint before they were killed: nothing was tested")
	}
}

// killChild starts the recording child on dir, kills it after it has
// recorded for d, and returns how many checkpoints it said it wrote.
func killChild(t *testing.T, dir string, d time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointFaultChild$", "-test.v")
	cmd.Env = append(os.Environ(), faultDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	written := 0
	var seen []string
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	recording := false
	for !recording {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("the child ended before recording:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			recording = strings.Contains(l, "recording")
		case <-timer.C:
			cmd.Process.Kill()
			t.Fatalf("the child did not start recording:\n%s", strings.Join(seen, "\n"))
		}
	}
	time.Sleep(d) // how long it records before the kill: the fault's moment
	if err := cmd.Process.Kill(); err != nil {
		cmd.Wait()
		for l := range lines {
			seen = append(seen, l)
		}
		t.Fatalf("the child ended before it was killed (%v):\n%s", err, strings.Join(seen, "\n"))
	}
	cmd.Wait()
	for l := range lines {
		if strings.Contains(l, "supervision state checkpointed") {
			written++
		}
	}
	return written
}

// lastRecorded is when the newest entry of dir's village chain was
// recorded.
func lastRecorded(t *testing.T, dir string) time.Time {
	t.Helper()
	n, closeFn := openCkVillage(t, dir, &fakeClock{t: time.Now()})
	defer closeFn()
	st, err := n.Ledger().Get(benchOrg, n.Ledger().Head(benchOrg).Seq)
	if err != nil {
		t.Fatal(err)
	}
	return st.RecordedAt
}

// TestCheckpointFaultChild is the process the fault test kills: it
// records expenses, step decisions and the timers' sweeps on the folder
// in SANZI_CHECKPOINT_FAULT_DIR, with a checkpoint at almost every sweep,
// until it is killed (or ten seconds pass). It is skipped otherwise.
func TestCheckpointFaultChild(t *testing.T) {
	dir := os.Getenv(faultDirEnv)
	if dir == "" {
		t.Skip("the child of TestKilledWhileRecordingRestartsAsAFullReplay")
	}
	ctx := context.Background()
	start := cstTime("2026-11-02 09:00")
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); err == nil {
		start = lastRecorded(t, dir).Add(time.Hour)
	}
	clock := &fakeClock{t: start}
	every := func(_ *books.Books, c *supervise.Config) { c.CheckpointEvery = 5 }
	n, _ := openCkVillage(t, dir, clock, withCheckpoints(os.Stdout), every)
	v := &ckVillage{t: t, ctx: ctx, n: n, clock: clock, k: int(n.Ledger().Head(benchOrg).Seq)}
	fmt.Println("recording")
	var open []string
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		clock.Set(clock.Now().Add(10 * time.Minute))
		p := payee("供应商"+strconv.Itoa(i%7), "")
		p.BankAccount = fmt.Sprintf("62220202001111%05d", i%7)
		open = append(open, procOf(v.expense(int64(20_000+i%5*400_000), p)))
		if i%3 == 0 && len(open) > 0 {
			pr, err := n.Procedure(open[0])
			if err != nil {
				t.Fatal(err)
			}
			switch step, _ := pr.OpenStep(); {
			case step == nil:
				open = open[1:]
			case strings.HasPrefix(step.GetPost(), "town."): // decided in the town's chain, which the village pulls
				v.pulled(townOrg, "镇代理会计", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION, &sanziv1.TownDecision{Village: benchOrg,
					Decision: &sanziv1.TownDecision_Step{Step: approve(benchOrg, open[0], step.GetCode(), step.GetPost())}}, open[0])
			default:
				v.decide(open[0], sanziv1.StepAction_STEP_ACTION_APPROVE)
			}
		}
		if i%2 == 0 {
			if _, err := n.Sweep(ctx, clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
}
