package bridge

// slots maps context ids to values in one array, indexed by the id itself
// (open addressing: the id's low bits, then the next free slot). Envoy
// hands out ids in increasing order and the live ones form a narrow window,
// so a lookup almost always lands on its slot at once. The array doubles
// when half full and a deleted id's slot is reused; a lookup, an insert
// into a table of the right size and a delete allocate nothing, unlike the
// SDK's maps, which allocate and hash for every stream. Not for concurrent
// use: a VM runs one callback at a time.
type slots[T any] struct {
	keys []uint32 // id+1; 0 marks a free slot
	vals []T
	n    int
}

// get returns the value kept for id.
func (s *slots[T]) get(id uint32) (v T, ok bool) {
	if s.n == 0 {
		return v, false
	}
	mask := uint32(len(s.keys) - 1)
	for i := id & mask; ; i = (i + 1) & mask {
		switch s.keys[i] {
		case id + 1:
			return s.vals[i], true
		case 0:
			return v, false
		}
	}
}

// put keeps v for id, replacing any value kept for it.
func (s *slots[T]) put(id uint32, v T) {
	if (s.n+1)*2 > len(s.keys) {
		s.grow()
	}
	mask := uint32(len(s.keys) - 1)
	for i := id & mask; ; i = (i + 1) & mask {
		switch s.keys[i] {
		case id + 1:
			s.vals[i] = v
			return
		case 0:
			s.keys[i], s.vals[i] = id+1, v
			s.n++
			return
		}
	}
}

// del forgets id and returns what was kept for it. The ids after it in its
// run move back into the freed slot where their own slot allows, so no
// lookup ever needs a tombstone.
func (s *slots[T]) del(id uint32) (v T, ok bool) {
	if s.n == 0 {
		return v, false
	}
	mask := uint32(len(s.keys) - 1)
	i := id & mask
	for ; s.keys[i] != id+1; i = (i + 1) & mask {
		if s.keys[i] == 0 {
			return v, false
		}
	}
	v = s.vals[i]
	var zero T
	for j := (i + 1) & mask; s.keys[j] != 0; j = (j + 1) & mask {
		home := (s.keys[j] - 1) & mask
		// j's value may move to i only if its home is not in (i, j]
		// (cyclically), or a lookup from home would stop at i.
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			s.keys[i], s.vals[i] = s.keys[j], s.vals[j]
			i = j
		}
	}
	s.keys[i], s.vals[i] = 0, zero
	s.n--
	return v, true
}

func (s *slots[T]) grow() {
	old, oldVals := s.keys, s.vals
	size := max(2*len(old), 16)
	s.keys, s.vals, s.n = make([]uint32, size), make([]T, size), 0
	for i, k := range old {
		if k != 0 {
			s.put(k-1, oldVals[i])
		}
	}
}
