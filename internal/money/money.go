package money

import (
	"errors"
	"strconv"
	"strings"
)

// ErrOverflow is returned when an amount would pass Max.
var ErrOverflow = errors.New("amount overflows")

// Add returns a+b for amounts in [0, Max].
func Add(a, b int64) (int64, error) {
	if !inRange(a) || !inRange(b) || a > Max-b {
		return 0, ErrOverflow
	}
	return a + b, nil
}

// Mul returns a*b for amounts in [0, Max].
func Mul(a, b int64) (int64, error) {
	if !inRange(a) || !inRange(b) || a != 0 && b > Max/a {
		return 0, ErrOverflow
	}
	return a * b, nil
}

// Decimal writes minor units as a decimal number with exactly the
// currency's decimals: 5400 USD is "54.00", 1200 JPY "1200", 1250 KWD "1.250".
func (c Currency) Decimal(minor int64) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if c.Decimals > 0 {
		if len(s) <= c.Decimals {
			s = strings.Repeat("0", c.Decimals-len(s)+1) + s
		}
		s = s[:len(s)-c.Decimals] + "." + s[len(s)-c.Decimals:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func inRange(a int64) bool { return a >= 0 && a <= Max }
