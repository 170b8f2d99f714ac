package apierror

import (
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
