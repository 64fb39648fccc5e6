package cli

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"keyden/model"
	"keyden/server"
	"keyden/storage"
)

func (a *app) serveCommand() *cobra.Command {
	var listen string
	var trusted []string
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR [--trusted-proxy CIDR]...",
		Short: "Verify keys over HTTP for gateways (nginx auth_request, Traefik, Caddy)",
		Long: `Serve GET /verify (any method) for forward-auth. The key comes from
Authorization: Bearer <key> or x-api-key: <key>; the environment from
X-Environment or /verify/{env}; a required scope from X-Required-Scope or
?scope=; the client IP from X-Forwarded-For / X-Real-IP when the peer is a
--trusted-proxy, else the peer. 200 with X-Key-Id, X-Key-Name, X-Key-Channel,
X-Key-Environment, X-Key-Scopes; 401 for missing, malformed, unknown, expired
or disabled keys; 403 for a wrong environment, scope or IP; a JSON body with
the reason. Also GET /healthz and GET /metrics (Prometheus).

Keys are checked from memory; changes made by the TUI or a shell are taken in
within a second. Last used is written at most once a second and on SIGINT or
SIGTERM, after the last request in flight is answered.`,
		Example: `  keyden serve --listen 127.0.0.1:8080 --trusted-proxy 127.0.0.1/32`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opt := server.Options{Log: log.New(a.env.Stderr, "keyden serve: ", log.LstdFlags)}
			for _, c := range trusted {
				p, err := model.ParseAllowedIP(c)
				if err != nil {
					return usagef("--trusted-proxy: %v", err)
				}
				opt.TrustedProxies = append(opt.TrustedProxies, p)
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return usagef("--listen %s is not an address: give one such as 127.0.0.1:8080", model.Quote(listen))
			}
			st, err := a.openStore(storage.Options{})
			if err != nil {
				return err
			}
			return serve(cmd.Context(), st, listen, opt)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringArrayVar(&trusted, "trusted-proxy", nil, "a proxy (IP or CIDR) whose X-Forwarded-For / X-Real-IP is believed (repeatable)")
	return cmd
}

// serve runs the verifier until ctx ends, then drains, flushes and returns.
func serve(ctx context.Context, st store, listen string, opt server.Options) error {
	srv := server.New(st, opt)
	if err := srv.Load(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return &refusal{msg: fmt.Sprintf("cannot listen on %s: %v; choose another --listen address", listen, errors.Unwrap(err))}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	followCtx, stopFollow := context.WithCancel(context.Background())
	followDone := make(chan struct{})
	go func() { srv.Follow(followCtx); close(followDone) }()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	opt.Log.Printf("listening on http://%s with %d keys from %s", ln.Addr(), srv.Keys(), st.Location())

	select {
	case <-ctx.Done():
	case err := <-served:
		stopFollow()
		return err
	}
	opt.Log.Printf("stopping: answering the requests in flight")
	drain, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(drain); err != nil {
		opt.Log.Printf("some requests were cut off: %v", err)
	}
	stopFollow()
	<-followDone
	// Every answered check is in memory now; write them, retrying while the store is busy.
	for attempt := 0; ; attempt++ {
		err := srv.Flush(context.Background())
		if err == nil {
			break
		}
		if attempt == 20 {
			return fmt.Errorf("could not write the last uses before exiting: %w", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	opt.Log.Printf("last uses written; stopped")
	return nil
}
