package apierror

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNewBoundsTheDescription(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     int
	}{
		{"a short description is kept whole", "bad handle", 10},
		{"ASCII is cut at 1024 bytes", strings.Repeat("a", 5000), 1024},
		{"a rune is never split", strings.Repeat("a", 1023) + "é" + "tail", 1023},
		{"three-byte runes are cut on a boundary", strings.Repeat("€", 2000), 1023},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := New(NotEnoughStock, "%s", c.in).Description
			if len(d) != c.want || !utf8.ValidString(d) || !strings.HasPrefix(c.in, d) {
				t.Errorf("got %d bytes (valid UTF-8 %v), want a %d-byte prefix", len(d), utf8.ValidString(d), c.want)
			}
		})
	}
}

func TestDescriptionsAreFormattedAsSprintf(t *testing.T) {
	type reason string
	for _, c := range []struct {
		name   string
		format string
		args   []any
	}{
		{"a constant is kept as it is", "x-firmly-authorization header is missing", nil},
		{"a string argument is substituted", "invalid device token: %s", []any{"expired"}},
		{"an int argument is substituted", "body larger than %d bytes", []any{65536}},
		{"a negative int keeps its sign", "status %d, %s", []any{-1, "reset"}},
		{"an error goes through fmtlite", "merchant cart: %v", []any{errString("bad")}},
		{"a missing argument is reported as fmt does", "%s and %s", []any{"one"}},
		{"a percent sign is escaped as fmt does", "100%% sure %s", []any{"yes"}},
		{"a trailing percent is reported as fmt does", "50%", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := New(Internal, c.format, c.args...).Description, fmt.Sprintf(c.format, c.args...); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	// Without fmt, what fmt would describe by the operand's type is marked
	// instead (internal/fmtlite); no call site passes such operands.
	for _, c := range []struct {
		name, format string
		args         []any
		want         string
	}{
		{"a named string type is marked", "%s", []any{reason("r")}, "%!s(unsupported)"},
		{"an extra argument is marked", "none", []any{"extra"}, "none%!(EXTRA extra)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := New(Internal, c.format, c.args...).Description; got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// typeNamed finds where fmt describes an operand by its type ("%!d(string=x)",
// "%!(EXTRA int=1)").
var typeNamed = regexp.MustCompile(`%!(.|\(EXTRA )\(?[\w.\[\]*]+=`)

// plainVerbs matches a format whose verbs have no flags, width or index:
// the verbs the filter writes, and all fmtlite supports.
var plainVerbs = regexp.MustCompile(`^([^%]|%[sdqv%])*%?$`)

type errString string

func (e errString) Error() string { return string(e) }

func FuzzDescriptionMatchesSprintf(f *testing.F) {
	f.Add("method %s not allowed; use POST", "GET", 7)
	f.Add("%d%s%%", "\xff", -3)
	f.Fuzz(func(t *testing.T, format, s string, n int) {
		want := fmt.Sprintf(format, s, n)
		if typeNamed.MatchString(want) || !plainVerbs.MatchString(format) {
			return // fmt names the operand's type there, fmtlite marks it (tested above)
		}
		if got := sprintf(format, []any{s, n}); got != want {
			t.Errorf("sprintf(%q) = %q, want %q", format, got, want)
		}
	})
}
