// Package fmtlite formats messages with the few fmt verbs the filter uses,
// without fmt: %s, %v, %d, %q, %w (in Errorf) and %%, for strings, byte
// slices, errors, fmt.Stringer-like values (a String method), booleans,
// integers and floats. For those it writes what fmt writes (the tests
// compare them); a value of any other type prints as "%!v(unsupported)".
//
// Why: fmt links reflect, internal/fmtsort and fmt's own printer, about
// 0.38 MB of plugin.wasm (docs/performance.md, "Size"), and the filter
// formats only log lines, refusal reasons and errors from known types.
// go vet's printf check sees these functions as printf wrappers, so a
// mismatched verb or argument count is still caught at build time.
package fmtlite

import (
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// stringer is fmt.Stringer, declared here so fmt is not imported.
type stringer interface{ String() string }

// Sprintf formats like fmt.Sprintf for the supported verbs and types.
func Sprintf(format string, args ...any) string {
	return string(Appendf(nil, format, args...))
}

// Fprintf writes the formatted text to w, like fmt.Fprintf.
func Fprintf(w io.Writer, format string, args ...any) (int, error) {
	return w.Write(Appendf(nil, format, args...))
}

// Errorf returns an error with the formatted text. Like fmt.Errorf, an
// error operand of %w is wrapped: errors.Is and errors.As see it (one %w:
// Unwrap() error; several: Unwrap() []error).
func Errorf(format string, args ...any) error {
	var wrapped []error
	b := appendf(nil, format, args, &wrapped)
	switch len(wrapped) {
	case 0:
		return errors.New(string(b))
	case 1:
		return &wrapError{msg: string(b), err: wrapped[0]}
	}
	return &wrapErrors{msg: string(b), errs: wrapped}
}

type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

type wrapErrors struct {
	msg  string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.msg }
func (e *wrapErrors) Unwrap() []error { return e.errs }

// Appendf appends the formatted text to b, like fmt.Appendf.
func Appendf(b []byte, format string, args ...any) []byte {
	return appendf(b, format, args, nil)
}

// appendf formats; wrapped, when not nil, collects %w's error operands
// (only Errorf passes it: elsewhere %w is a bad verb, as in fmt).
func appendf(b []byte, format string, args []any, wrapped *[]error) []byte {
	n := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		i++
		if i == len(format) {
			b = append(b, "%!(NOVERB)"...)
			break
		}
		verb, size := utf8.DecodeRuneInString(format[i:])
		i += size - 1
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		if n >= len(args) {
			b = append(b, "%!"...)
			b = utf8.AppendRune(b, verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		arg := args[n]
		n++
		if verb == 'w' {
			err, ok := arg.(error)
			if wrapped == nil || !ok {
				b = badVerb(b, verb, arg)
				continue
			}
			*wrapped = append(*wrapped, err)
			verb = 'v'
		}
		b = appendArg(b, verb, arg)
	}
	if n < len(args) {
		b = append(b, "%!(EXTRA"...)
		for i, a := range args[n:] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, ' ')
			b = appendArg(b, 'v', a)
		}
		b = append(b, ')')
	}
	return b
}

// appendArg writes one operand. The order of the cases follows fmt's:
// errors and Stringers win over the underlying kind for %s, %v and %q.
func appendArg(b []byte, verb rune, arg any) []byte {
	if arg == nil {
		if verb == 'v' {
			return append(b, "<nil>"...)
		}
		return badVerb(b, verb, arg)
	}
	text, isText := "", false
	switch v := arg.(type) {
	case string:
		text, isText = v, true
	case []byte:
		text, isText = string(v), true
	case error:
		if verb == 's' || verb == 'v' || verb == 'q' {
			text, isText = v.Error(), true
		}
	case stringer:
		if verb == 's' || verb == 'v' || verb == 'q' {
			text, isText = v.String(), true
		}
	}
	if isText {
		switch verb {
		case 's', 'v':
			return append(b, text...)
		case 'q':
			return strconv.AppendQuote(b, text)
		}
		return badVerb(b, verb, arg)
	}
	switch v := arg.(type) {
	case bool:
		if verb == 'v' || verb == 't' {
			return strconv.AppendBool(b, v)
		}
	case float64:
		if verb == 'v' {
			return strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	case float32:
		if verb == 'v' {
			return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		}
	default:
		if i, ok := signed(arg); ok {
			return appendInt(b, verb, i, arg)
		}
		if u, ok := unsigned(arg); ok {
			if verb == 'd' || verb == 'v' {
				return strconv.AppendUint(b, u, 10)
			}
			if verb == 'q' {
				return appendQuoteRune(b, u)
			}
		}
	}
	return badVerb(b, verb, arg)
}

func appendInt(b []byte, verb rune, i int64, arg any) []byte {
	switch {
	case verb == 'd' || verb == 'v':
		return strconv.AppendInt(b, i, 10)
	case verb == 'q':
		return appendQuoteRune(b, uint64(i))
	}
	return badVerb(b, verb, arg)
}

// appendQuoteRune is %q of an integer: the quoted character, and U+FFFD for
// a value past the last code point (a negative one included), as fmt does.
func appendQuoteRune(b []byte, c uint64) []byte {
	r := utf8.RuneError
	if c <= utf8.MaxRune {
		r = rune(c)
	}
	return strconv.AppendQuoteRune(b, r)
}

func signed(arg any) (int64, bool) {
	switch v := arg.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

func unsigned(arg any) (uint64, bool) {
	switch v := arg.(type) {
	case uint:
		return uint64(v), true
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case uintptr:
		return uint64(v), true
	}
	return 0, false
}

// badVerb marks a verb that does not fit its operand. fmt also names the
// operand's type, which needs reflect; this says only that it is wrong.
func badVerb(b []byte, verb rune, arg any) []byte {
	b = append(b, "%!"...)
	b = utf8.AppendRune(b, verb)
	if arg == nil {
		return append(b, "(<nil>)"...)
	}
	return append(b, "(unsupported)"...)
}
