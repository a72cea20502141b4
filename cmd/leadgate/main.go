// Command leadgate is the landing-page prefill and redirect gateway.
//
//	leadgate [serve] [--config PATH]     the gateway (default)
//	leadgate sandbox [--addr :9000]      only the upstream emulators
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // flows check dates in the consumer's zone, even in a scratch image

	"github.com/gin-gonic/gin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "leadgate:", err)
		os.Exit(1)
	}
}

// run is the whole program; tests call it with their own arguments,
// environment and output, and end it by cancelling ctx.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Gin's mode is process-wide state: set once, here. Release mode: no
	// debug output, and no route dump at start.
	gin.SetMode(gin.ReleaseMode)
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "sandbox") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "sandbox":
		return runSandbox(ctx, args, stdout, stderr)
	default:
		return runServe(ctx, args, getenv, stdout, stderr)
	}
}
