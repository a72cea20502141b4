//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"errors"
	"os"
)

// flock: no exclusive file lock here; leases found at start wait for
// their time to run out.
func flock(*os.File) error { return errors.ErrUnsupported }
