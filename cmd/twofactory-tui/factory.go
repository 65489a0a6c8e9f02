package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twofactory/twofactory/internal/factory"
)

func runFactory(args []string, io stdio) error {
	fs := newEnvFlags("twofactory-tui factory", io.env)
	id := fs.String("id", "", "factory id, e.g. mac-1 (required)")
	apiURL := fs.String("api", "", "coordinator base URL, e.g. http://127.0.0.1:4003/api (required)")
	token := fs.String("token", "", "bearer token")
	work := fs.String("work", "", "work directory (required)")
	shipped := fs.String("shipped", "", "where accepted results go (default WORK/shipped)")
	quarantine := fs.String("quarantine", "", "where fenced results go (default WORK/quarantine)")
	logPath := fs.String("log", "", "job log (default WORK/log-ID.txt)")
	engine := fs.String("engine", "", "command run per job with sh -c (env JOB_ID, JOB_EPOCH, "+
		"JOB_OUT, JOB_PAYLOAD); default: sleep --job-sleep and write a result file")
	sleep := secondsFlag(fs.FlagSet, "job-sleep", factory.DefaultJobSleep,
		"built-in engine's work per job")
	product := fs.String("product", "", "claim only this product's jobs")
	poll := secondsFlag(fs.FlagSet, "poll", factory.DefaultPoll, "wait between claims when idle")
	renew := secondsFlag(fs.FlagSet, "renew", 30*time.Second,
		"heartbeat ceiling; the interval is min(this, lease/3)")
	for flag, env := range map[string]string{"api": "AQ_FLEET_API", "token": "AQ_FLEET_TOKEN",
		"job-sleep": "DEMO_JOB_SLEEP", "product": "AQ_PRODUCT_ID", "poll": "DEMO_POLL",
		"renew": "AQ_FLEET_LEASE_RENEW_SEC"} {
		fs.bindEnv(flag, env)
	}
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprint(io.out, "Usage: twofactory-tui factory --id ID --api URL --work DIR [flags]\n\n"+
			"Runs a factory daemon: claims jobs, heartbeats their leases, runs each in an\n"+
			"executor process and ships only what the coordinator accepted as done.\n"+
			"First SIGTERM/Ctrl-C: finish the current job and exit; second: stop now.\n\n"+
			"Flags:\n"+fs.FlagUsagesWrapped(100))
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *id == "" || *apiURL == "" || *work == "":
		return usageError("factory needs --id, --api and --work")
	}
	svc, err := dialAPI(*apiURL, *token)
	if err != nil {
		return usageError("--api: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hard := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 2)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		cancel() // first signal: finish the current job
		<-sig
		close(hard) // second: stop now
	}()
	return factory.Run(ctx, factory.Config{
		ID: *id, Service: svc, APIURL: *apiURL, Token: *token, Product: *product,
		WorkDir: *work, ShippedDir: *shipped, QuarantineDir: *quarantine, LogPath: *logPath,
		Engine: *engine, JobSleep: *sleep, Poll: *poll, Renew: *renew, Hard: hard,
		Logger: slog.New(slog.NewTextHandler(io.err, nil)),
	})
}
