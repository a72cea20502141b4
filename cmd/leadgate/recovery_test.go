package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store/storetest"
)

// TestReplicaTakesOverAtOnce runs two real replicas on one PostgreSQL,
// SIGKILLs the one posting an application to a slow Lokyata, and shows
// the other taking the application over as soon as the dead replica's
// database session is gone, not when its lease runs out: the consumer's
// waiting page, on the surviving replica, ends at Astoria, and no buyer
// is posted twice.
func TestReplicaTakesOverAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two replicas")
	}
	t.Parallel()
	pg := storetest.PostgresForTest(t)
	dir := t.TempDir()
	bin := binary(t)
	sandboxURL := startSandbox(t, bin)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(killConfig, storetest.FreshSchema(t, pg), sandboxURL)), 0o600)

	// The survivor starts once the application is in flight on the other,
	// so that it is the dying replica's for sure.
	dying, url1 := startProcess(t, bin, serving, "--config", cfg)
	c, loc := applyToSlowLokyata(t, url1+"/", sandboxURL, "takeover")
	_, url2 := startProcess(t, bin, serving, "--config", cfg)

	killed := time.Now()
	if err := dying.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown at all
		t.Fatal(err)
	}
	dying.cmd.Wait()
	movesOn(t, sandboxURL, killed, "kill")
	endsAtAstoria(t, c, url2+loc, sandboxURL)
}
