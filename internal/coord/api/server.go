package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twofactory/twofactory/internal/coord"
)

// Server timeouts. A request's headers must arrive promptly (a stalled
// client cannot hold a connection), and a whole call may take the longest
// long poll plus callSlack for its body, the service and the network. The
// read timeout must also cover the poll: when it fires mid-call, net/http
// cancels the call's context.
const (
	readHeaderTimeout = 10 * time.Second
	callSlack         = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Server is the coordinator API on a listening socket: NewHandler under an
// http.Server, with a Start that reports the bound address and a Stop that
// first ends the long polls, then lets every other call in flight finish.
type Server struct {
	svc coord.Service
	opt ServerOptions

	mu     sync.Mutex
	srv    *http.Server
	served chan struct{} // closed when Serve has returned
	closed bool          // Stop has been called

	drain    context.Context
	endPolls context.CancelFunc

	stopOnce sync.Once
	stopErr  error
}

// NewServer returns a server for svc, not yet listening.
func NewServer(svc coord.Service, opt ServerOptions) *Server {
	drain, endPolls := context.WithCancel(context.Background())
	return &Server{svc: svc, opt: opt.withDefaults(), drain: drain, endPolls: endPolls}
}

// Start listens on listen ("127.0.0.1:0" picks a free port) and serves in
// the background. It returns the bound address. A server starts once; a
// second Start, or a Start after Stop, is an error.
func (s *Server) Start(listen string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("api: start: server was stopped")
	}
	if s.srv != nil {
		return nil, errors.New("api: start: server already started")
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", listen, err)
	}
	s.srv = &http.Server{
		Handler:           newHandler(s.svc, s.opt, s.drain),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.opt.LongPollMax + callSlack,
		WriteTimeout:      s.opt.LongPollMax + callSlack,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelWarn),
	}
	s.served = make(chan struct{})
	go s.serve(s.srv, ln)
	return ln.Addr(), nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	defer close(s.served)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		s.opt.Logger.Error("api: serve stopped", "addr", ln.Addr().String(), "err", err)
	}
}

// Stop stops accepting connections, answers every waiting long poll at once
// (with no events), and waits until the calls in flight have finished or
// ctx is done; then it closes what is left. It is idempotent: later calls
// return the first call's result. Stop before Start just keeps the server
// from starting.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Server) stop(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	srv, served := s.srv, s.served
	s.mu.Unlock()

	s.endPolls()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// The deadline passed with calls still running: cut them off.
		_ = srv.Close()
		err = fmt.Errorf("api: stop: calls still running: %w", err)
	}
	<-served
	return err
}
