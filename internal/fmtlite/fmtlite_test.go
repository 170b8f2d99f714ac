package fmtlite_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/internal/fmtlite"
)

// The supported verbs and types print exactly what fmt prints.
func TestSprintfMatchesFmt(t *testing.T) {
	err := errors.New("boom")
	tests := []struct {
		format string
		args   []any
	}{
		{"plain", nil},
		{"100%% sure", nil},
		{"%s and %s", []any{"a", []byte("b")}},
		{"%v %v %v", []any{"s", err, true}},
		{"%q %q %q", []any{"quote \"me\"\n", err, "ünï"}},
		{"%d %d %d %d %d %d", []any{-1, int8(-8), int16(16), int32(-32), int64(1 << 40), uint8(255)}},
		{"%d %d %d %d %v", []any{uint(7), uint16(16), uint32(1 << 31), uint64(1 << 63), uintptr(9)}},
		{"%v %v %v", []any{1.5, float32(0.25), 1e21}},
		{"%v %s %q", []any{2 * time.Second, 1500 * time.Millisecond, time.Minute}},
		{"%v", []any{nil}},
		{"%q", []any{'x'}},
		{"key %q: %s", []any{"auth.allowed_app_ids[0]", "must be a non-empty string"}},
		{"%s (wanted %d, available %d)", []any{"MH07-XS-Gray", 3, 1}},
		{"tail %", nil},
		{"%d and %d", []any{1}},
	}
	for _, tt := range tests {
		want := fmt.Sprintf(tt.format, tt.args...)
		if got := fmtlite.Sprintf(tt.format, tt.args...); got != want {
			t.Errorf("Sprintf(%q, %v) = %q, fmt gives %q", tt.format, tt.args, got, want)
		}
	}
}

// Outside what is supported the output is marked, not guessed.
func TestUnsupported(t *testing.T) {
	type named int
	tests := []struct {
		format string
		args   []any
		want   string
	}{
		{"%d", []any{"s"}, "%!d(unsupported)"},
		{"%v", []any{named(1)}, "%!v(unsupported)"},
		{"%x", []any{10}, "%!x(unsupported)"},
		{"%w", []any{errors.New("e")}, "%!w(unsupported)"},
		{"%s", []any{nil}, "%!s(<nil>)"},
		{"a", []any{1, "b"}, "a%!(EXTRA 1, b)"},
	}
	for _, tt := range tests {
		if got := fmtlite.Sprintf(tt.format, tt.args...); got != tt.want {
			t.Errorf("Sprintf(%q, %v) = %q, want %q", tt.format, tt.args, got, tt.want)
		}
	}
}

func TestErrorfWraps(t *testing.T) {
	inner := fs.ErrNotExist
	err := fmtlite.Errorf("keys[%d]: %w", 2, inner)
	if want := fmt.Errorf("keys[%d]: %w", 2, inner); err.Error() != want.Error() {
		t.Errorf("Errorf = %q, fmt gives %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	other := errors.New("other")
	two := fmtlite.Errorf("%w and %w", inner, other)
	if !errors.Is(two, fs.ErrNotExist) || !errors.Is(two, other) || two.Error() != "file does not exist and other" {
		t.Errorf("Errorf with two %%w = %q, not wrapping both", two)
	}
	if plain := fmtlite.Errorf("status %d", 7); errors.Unwrap(plain) != nil || plain.Error() != "status 7" {
		t.Errorf("Errorf without %%w = %q, unwraps to %v", plain, errors.Unwrap(plain))
	}
}

func TestFprintf(t *testing.T) {
	var b strings.Builder
	fmtlite.Fprintf(&b, ", and %d more", 3)
	if b.String() != ", and 3 more" {
		t.Errorf("Fprintf wrote %q", b.String())
	}
}

// Property: for a format of supported verbs over strings, integers and
// errors, the output is fmt's.
func FuzzSprintfMatchesFmt(f *testing.F) {
	f.Add("%s=%d (%q) %v%%", "q\x00", int64(-3))
	f.Add("%q%q", "\xff", int64(1))
	f.Fuzz(func(t *testing.T, format, s string, n int64) {
		args := []any{s, n, s, errors.New(s), n}
		// Keep to the supported verbs: any other is marked differently.
		for i := 0; i < len(format); i++ {
			if format[i] == '%' && (i+1 == len(format) || !strings.ContainsRune("sdqv%", rune(format[i+1]))) {
				return
			}
			if format[i] == '%' {
				i++
			}
		}
		want := fmt.Sprintf(format, args...)
		if strings.Contains(want, "%!") {
			return // a mismatch fmt describes with the operand's type
		}
		if got := fmtlite.Sprintf(format, args...); got != want {
			t.Fatalf("Sprintf(%q) = %q, fmt gives %q", format, got, want)
		}
	})
}
