package apierror

import (
	"fmt"
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
		{"an error goes through fmt", "merchant cart: %v", []any{errString("bad")}},
		{"a named string type goes through fmt", "%s", []any{reason("r")}},
		{"a missing argument is reported as fmt does", "%s and %s", []any{"one"}},
		{"an extra argument is reported as fmt does", "none", []any{"extra"}},
		{"a percent sign is escaped as fmt does", "100%% sure %s", []any{"yes"}},
		{"a trailing percent is reported as fmt does", "50%", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := New(Internal, c.format, c.args...).Description, fmt.Sprintf(c.format, c.args...); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func FuzzDescriptionMatchesSprintf(f *testing.F) {
	f.Add("method %s not allowed; use POST", "GET", 7)
	f.Add("%d%s%%", "\xff", -3)
	f.Fuzz(func(t *testing.T, format, s string, n int) {
		if got, want := sprintf(format, []any{s, n}), fmt.Sprintf(format, s, n); got != want {
			t.Errorf("sprintf(%q) = %q, want %q", format, got, want)
		}
	})
}
