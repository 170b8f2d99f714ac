package main

import (
	"fmt"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/firmly/session-transfer-filter/internal/apierror"
	"github.com/firmly/session-transfer-filter/internal/metrics"
)

type logLevel int

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
	levelCritical
)

// logf is the plugin's only way to log: every line is cut to
// metrics.MaxLogLine bytes here, whatever a merchant, a backend or a
// client put into it.
func logf(level logLevel, format string, args ...any) {
	logMsg(level, fmt.Sprintf(format, args...))
}

// logMsg logs a line built without fmt, cut as logf cuts it.
func logMsg(level logLevel, msg string) {
	msg = apierror.Cut(msg, metrics.MaxLogLine)
	switch level {
	case levelDebug:
		proxywasm.LogDebug(msg)
	case levelInfo:
		proxywasm.LogInfo(msg)
	case levelWarn:
		proxywasm.LogWarn(msg)
	case levelError:
		proxywasm.LogError(msg)
	default:
		proxywasm.LogCritical(msg)
	}
}
