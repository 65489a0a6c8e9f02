package view

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/twofactory/twofactory/internal/orchestrate"
)

// onCancel returns a cancel func and a channel closed by its first call.
func onCancel() (func(), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }, ch
}

// stopOnCancel is a scenario that runs until cancelled, then reports its
// cleanup and closes its channel, as orchestrate does.
func stopOnCancel(cancelled <-chan struct{},
	first ...orchestrate.Progress) <-chan orchestrate.Progress {
	ch := make(chan orchestrate.Progress, len(first)+1)
	for _, p := range first {
		ch <- p
	}
	go func() {
		<-cancelled
		ch <- step(time.Second, orchestrate.StepCleanup, "cleanup")
		close(ch)
	}()
	return ch
}

// fakeTerminal runs the program on input keys and a throwaway output.
func fakeTerminal(keys string) []tea.ProgramOption {
	var in tea.ProgramOption = tea.WithInput(nil)
	if keys != "" {
		in = tea.WithInput(strings.NewReader(keys))
	}
	return []tea.ProgramOption{in, tea.WithOutput(&bytes.Buffer{}), tea.WithoutSignalHandler()}
}

// runWithin runs RunDashboard and fails if it takes longer than waitLong.
func runWithin(t *testing.T, ctx context.Context, progress <-chan orchestrate.Progress,
	events <-chan EventsMsg, cancel func(), opt Options) (*orchestrate.Results, string, error) {
	t.Helper()
	var out bytes.Buffer
	type result struct {
		r   *orchestrate.Results
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := RunDashboard(ctx, progress, events, cancel, &out, opt)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, out.String(), res.err
	case <-time.After(waitLong):
		t.Fatal("RunDashboard did not return")
		return nil, "", nil
	}
}

// screenWatch is a fake terminal's output that says when a text appears.
type screenWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []byte
	seen chan struct{}
}

func (w *screenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.want != nil && bytes.Contains(w.buf.Bytes(), w.want) {
		close(w.seen)
		w.want = nil
	}
	return len(p), nil
}

func TestRunDashboardPrintsTheVerdictAfterExit(t *testing.T) {
	defer checkLeaks(t)()
	asciiProfile(t)
	progress, events := demoScript(passResults())
	keys, typing := io.Pipe()
	screen := &screenWatch{want: []byte("press q to exit"), seen: make(chan struct{})}
	go func() {
		select {
		case <-screen.seen:
			_, _ = typing.Write([]byte("q"))
		case <-time.After(waitLong):
		}
		_ = typing.Close()
	}()
	opt := Options{Title: "twofactory demo", programOptions: []tea.ProgramOption{
		tea.WithInput(keys), tea.WithOutput(screen), tea.WithoutSignalHandler()}}
	res, out, err := runWithin(t, context.Background(), progress, events, nil, opt)
	if err != nil {
		t.Fatalf("RunDashboard: %v", err)
	}
	if res == nil || !res.Pass {
		t.Fatalf("results = %+v, want the judged pass", res)
	}
	if !strings.Contains(out, "RESULTS (stub)") || !strings.HasSuffix(out, "VERDICT: PASS\n") {
		t.Errorf("out lacks the RESULTS block:\n%s", out)
	}
}

func TestRunDashboardQuitEarlyIsAnInterrupt(t *testing.T) {
	defer checkLeaks(t)()
	asciiProfile(t)
	cancel, cancelled := onCancel()
	progress := stopOnCancel(cancelled, configStep())
	res, out, err := runWithin(t, context.Background(), progress, nil, cancel,
		Options{programOptions: fakeTerminal("q")})
	if !errors.Is(err, ErrInterrupted) || res != nil {
		t.Errorf("RunDashboard = %v, %v; want no results and ErrInterrupted", res, err)
	}
	select {
	case <-cancelled:
	default:
		t.Error("q did not cancel the scenario")
	}
	if !strings.HasSuffix(out, "VERDICT: FAIL (not judged)\n") {
		t.Errorf("out lacks the not-judged verdict:\n%s", out)
	}
}

func TestRunDashboardStopsTheScenarioWhenTheContextEnds(t *testing.T) {
	defer checkLeaks(t)()
	asciiProfile(t)
	cancel, cancelled := onCancel()
	progress := stopOnCancel(cancelled, configStep())
	ctx, stop := context.WithCancel(context.Background())
	stop()
	res, out, err := runWithin(t, ctx, progress, nil, cancel,
		Options{programOptions: fakeTerminal("")})
	if err != nil || res != nil {
		t.Errorf("RunDashboard = %v, %v; want no results and no error", res, err)
	}
	if !strings.Contains(out, "VERDICT: FAIL (not judged)") {
		t.Errorf("out lacks the not-judged verdict:\n%s", out)
	}
}

func TestRunDashboardTurnsAPanicIntoAnError(t *testing.T) {
	defer checkLeaks(t)()
	asciiProfile(t)
	cancel, cancelled := onCancel()
	cfg := configStep()
	cfg.EventsLog = "/nonexistent/events.log"
	progress := stopOnCancel(cancelled, cfg)
	opt := Options{
		programOptions: fakeTerminal(""),
		openLog: func(string) (*eventSource, func(), error) {
			panic("follower exploded")
		},
	}
	_, out, err := runWithin(t, context.Background(), progress, nil, cancel, opt)
	if err == nil || !strings.Contains(err.Error(), "follower exploded") {
		t.Fatalf("err = %v, want the panic as an error", err)
	}
	select {
	case <-cancelled:
	default:
		t.Error("the scenario was not cancelled after the panic")
	}
	if !strings.Contains(out, "stopping the scenario") {
		t.Errorf("out does not say it stops the scenario:\n%s", out)
	}
}

func TestRunDashboardFollowsTheNamedLog(t *testing.T) {
	defer checkLeaks(t)()
	asciiProfile(t)
	before, after := demoHistory()
	feed := make(chan EventsMsg, 2)
	feed <- EventsMsg{Events: before}
	feed <- EventsMsg{Events: after}
	opened := make(chan string, 1)
	stopped := make(chan struct{})
	cfg := configStep()
	cfg.EventsLog = "/run/events.log"
	judge := step(time.Second, orchestrate.StepJudge, "judge")
	judge.Results = passResults()
	progress := make(chan orchestrate.Progress, 2)
	progress <- cfg
	opt := Options{
		programOptions: fakeTerminal(""),
		openLog: func(path string) (*eventSource, func(), error) {
			opened <- path
			// Like the real follower, stopping closes the source.
			return &eventSource{c: feed, name: path}, func() { close(stopped); close(feed) }, nil
		},
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		<-opened
		progress <- judge
		close(progress)
		stop() // leave as soon as the scenario has ended
	}()
	res, _, err := runWithin(t, ctx, progress, nil, nil, opt)
	if err != nil || res == nil {
		t.Fatalf("RunDashboard = %v, %v", res, err)
	}
	select {
	case <-stopped:
	default:
		t.Error("the follower was not stopped")
	}
}
