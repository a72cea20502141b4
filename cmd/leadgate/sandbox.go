package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/leadgate/leadgate/providers/sandbox"
	"github.com/leadgate/leadgate/templates"
)

// runSandbox serves only the upstream emulators, for lenders testing their
// own integration against them.
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("leadgate sandbox", flag.ContinueOnError)
	fset.SetOutput(stderr)
	addr := fset.String("addr", ":9000", "listen address")
	gateway := fset.String("gateway", "http://localhost:8080", "the gateway whose prefill.js the lender form (/sandbox/lender/form) loads")
	if err := fset.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	static, _ := fs.Sub(templates.FS, "static")
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", sandbox.New(sandbox.Options{Gateway: *gateway}))
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	srv := newHTTPServer(mux)
	fmt.Fprintf(stdout, "leadgate sandbox: emulators on http://%s/sandbox/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
