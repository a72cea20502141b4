package gateway

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain runs Gin in release mode, as run() does: no debug route dump.
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}
