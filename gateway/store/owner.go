package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// errLocked: another open file holds the lock.
var errLocked = errors.New("locked")

// holder is who has a SQLite file, as written in its lock file.
type holder struct {
	PID  int    `json:"pid"`
	Host string `json:"host"`
}

// lockFile makes the SQLite database at path single-owner: an exclusive
// lock on path+".lock", held for the store's life and released by the
// kernel however the process ends (SIGKILL included). Every lease found
// in a locked file is then a stopped process's. A second leadgate on the
// file is refused, naming the holder. The lock file is left in place when
// the store closes: removing it would let two processes lock two files.
// It returns nil where the system has no such lock.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	switch err := flock(f); {
	case errors.Is(err, errors.ErrUnsupported):
		f.Close()
		return nil, nil
	case errors.Is(err, errLocked):
		var h holder
		json.NewDecoder(io.LimitReader(f, 1024)).Decode(&h)
		f.Close()
		who := ""
		if h.PID != 0 {
			who = fmt.Sprintf(" (pid %d on host %s)", h.PID, h.Host)
		}
		return nil, fmt.Errorf("storage.dsn: %s is in use by another leadgate%s; stop it or use another file", path, who)
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("store: locking %s: %w", f.Name(), err)
	}
	// Who has the file, for a second leadgate's message: best effort.
	host, _ := os.Hostname()
	b, _ := json.Marshal(holder{PID: os.Getpid(), Host: host})
	f.Truncate(0)
	f.WriteAt(append(b, '\n'), 0)
	return f, nil
}
