package main

import (
	"github.com/firmly/session-transfer-filter/internal/fmtlite"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

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

// logf is the plugin's only way to log: every line is escaped to printable
// ASCII and cut to metrics.MaxLogLine bytes here (metrics.LogLine),
// whatever a merchant, a backend or a client put into it.
func logf(level logLevel, format string, args ...any) {
	logMsg(level, fmtlite.Sprintf(format, args...))
}

// logMsg logs a line built without fmt, escaped and cut as logf does.
func logMsg(level logLevel, msg string) {
	msg = metrics.LogLine(msg)
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
