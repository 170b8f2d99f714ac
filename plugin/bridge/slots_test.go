package bridge

import (
	"math/rand/v2"
	"testing"
)

// The table against a map, through the pattern Envoy makes: ids in
// increasing order, a window of live streams (some of them long-lived),
// deleted in any order, and ids that collide in the low bits.
func TestSlotsAgreeWithAMap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stride uint32 // distance between consecutive ids
		live   int
	}{
		{"consecutive ids", 1, 1000},
		{"ids that share their low bits", 1 << 12, 300},
		{"a small window", 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var s slots[uint64]
			m := map[uint32]uint64{}
			var live []uint32
			next := uint32(1)
			for step := range 50000 {
				if len(live) < tc.live && r.IntN(3) > 0 || len(live) == 0 {
					id := next
					next += tc.stride
					s.put(id, uint64(step))
					m[id] = uint64(step)
					live = append(live, id)
				} else {
					k := r.IntN(len(live))
					if r.IntN(50) == 0 {
						k = 0 // the longest-lived one
					}
					id := live[k]
					live = append(live[:k], live[k+1:]...)
					v, ok := s.del(id)
					if !ok || v != m[id] {
						t.Fatalf("step %d: del(%d) = %d, %v; want %d", step, id, v, ok, m[id])
					}
					delete(m, id)
					if _, ok := s.del(id); ok {
						t.Fatalf("step %d: %d deleted twice", step, id)
					}
				}
				if step%97 == 0 {
					for id, want := range m {
						if v, ok := s.get(id); !ok || v != want {
							t.Fatalf("step %d: get(%d) = %d, %v; want %d", step, id, v, ok, want)
						}
					}
					if _, ok := s.get(next); ok {
						t.Fatalf("step %d: get(%d) found an id never put", step, next)
					}
					if s.n != len(m) {
						t.Fatalf("step %d: %d kept, want %d", step, s.n, len(m))
					}
				}
			}
		})
	}
}

func TestSlotsPutReplaces(t *testing.T) {
	var s slots[string]
	s.put(7, "a")
	s.put(7, "b")
	if v, ok := s.get(7); !ok || v != "b" || s.n != 1 {
		t.Errorf("get(7) = %q, %v with %d kept; want b, true, 1", v, ok, s.n)
	}
	if _, ok := s.get(0); ok {
		t.Error("get(0) found a value never put")
	}
}

// Once grown to the live window, a stream's create, lookups and delete
// allocate nothing.
func TestSlotsSteadyStateAllocatesNothing(t *testing.T) {
	var s slots[*int]
	x := new(int)
	id := uint32(1)
	for range 100 {
		s.put(id, x)
		id++
	}
	for i := uint32(1); i < id; i++ {
		s.del(i)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		s.put(id, x)
		s.get(id)
		s.del(id)
		id++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per stream, want 0", allocs)
	}
}

func BenchmarkSlotsStream(b *testing.B) {
	var s slots[*int]
	x := new(int)
	id := uint32(1)
	for b.Loop() {
		s.put(id, x)
		for range 7 {
			s.get(id)
		}
		s.del(id)
		id++
	}
}

func BenchmarkMapStream(b *testing.B) {
	m := map[uint32]*int{}
	x := new(int)
	id := uint32(1)
	for b.Loop() {
		m[id] = x
		for range 7 {
			_ = m[id]
		}
		delete(m, id)
		id++
	}
}
