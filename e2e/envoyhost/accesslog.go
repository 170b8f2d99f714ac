package envoyhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AccessLog is an HTTP connection manager access log
// (envoy.access_loggers.stdout with a log_format): exactly one of JSON
// (json_format, values are format strings) or Text (text_format).
type AccessLog struct {
	JSON map[string]string
	Text string
	// Out receives each line; lines are kept for AccessLogs either way.
	Out io.Writer
}

// The command operators the host supports, as Envoy spells them.
var commandOperator = regexp.MustCompile(`%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%`)

// checkAccessLog refuses a format using an operator the host does not
// emulate, rather than logging something Envoy would not.
func checkAccessLog(a *AccessLog) error {
	if a == nil {
		return nil
	}
	formats := []string{a.Text}
	for _, f := range a.JSON {
		formats = append(formats, f)
	}
	for _, f := range formats {
		for _, m := range commandOperator.FindAllStringSubmatch(f, -1) {
			switch m[1] {
			case "START_TIME", "REQ", "RESPONSE_CODE", "RESPONSE_CODE_DETAILS", "DURATION", "FILTER_STATE", "PROTOCOL":
			default:
				return fmt.Errorf("host: access log: command operator %%%s%% is not emulated", m[1])
			}
		}
	}
	return nil
}

// operator evaluates one command operator; ok false is a missing value
// ("-" in text, null in JSON).
func (s *Stream) operator(name, arg, maxLen string, end time.Time) (v any, ok bool) {
	str := func(x string, found bool) (any, bool) {
		if !found {
			return nil, false
		}
		if n, err := strconv.Atoi(maxLen); err == nil && len(x) > n {
			x = x[:n]
		}
		return x, true
	}
	switch name {
	case "START_TIME":
		return s.started.UTC().Format("2006-01-02T15:04:05.000Z"), true
	case "PROTOCOL":
		return "HTTP/1.1", true
	case "REQ":
		for _, k := range strings.Split(arg, "?") {
			if x, found := s.requestHeadersCopy.Get(strings.ToLower(k)); found {
				return str(x, true)
			}
		}
		return nil, false
	case "RESPONSE_CODE":
		return s.resp.Status, true
	case "RESPONSE_CODE_DETAILS":
		return str(s.resp.Details, s.resp.Details != "")
	case "DURATION":
		return end.Sub(s.started).Milliseconds(), true
	case "FILTER_STATE":
		key, _, _ := strings.Cut(arg, ":") // only :PLAIN is used
		x, found := s.filterState[key]
		return str(string(x), found)
	}
	return nil, false
}

// format renders one format string: a lone operator keeps its type (for
// JSON), anything else is text with "-" for a missing value.
func (s *Stream) format(f string, end time.Time) (any, bool) {
	if m := commandOperator.FindStringSubmatch(f); m != nil && m[0] == f {
		return s.operator(m[1], m[2], m[3], end)
	}
	return commandOperator.ReplaceAllStringFunc(f, func(op string) string {
		m := commandOperator.FindStringSubmatch(op)
		v, ok := s.operator(m[1], m[2], m[3], end)
		if !ok {
			return "-"
		}
		return fmt.Sprint(v)
	}), true
}

// writeAccessLog runs when the stream has ended, as Envoy's access loggers do.
func (s *Stream) writeAccessLog() {
	h := s.vm.host
	a := h.cfg.AccessLog
	if a == nil {
		return
	}
	end := h.now()
	s.mu.Lock()
	var line string
	if a.JSON != nil {
		keys := make([]string, 0, len(a.JSON))
		for k := range a.JSON {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b bytes.Buffer
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			v, ok := s.format(a.JSON[k], end)
			if !ok {
				v = nil
			}
			writeJSON(&b, k)
			b.WriteByte(':')
			writeJSON(&b, v)
		}
		b.WriteByte('}')
		line = b.String()
	} else {
		line = "-" // a lone operator with no value, as Envoy prints it
		if v, ok := s.format(a.Text, end); ok {
			line = fmt.Sprint(v)
		}
	}
	s.mu.Unlock()
	h.mu.Lock()
	h.accessLogs = append(h.accessLogs, line)
	h.mu.Unlock()
	if a.Out != nil {
		io.WriteString(a.Out, line+"\n")
	}
}

func writeJSON(b *bytes.Buffer, v any) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	e.Encode(v)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// AccessLogs returns every access-log line so far, in order.
func (h *Host) AccessLogs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.accessLogs...)
}
