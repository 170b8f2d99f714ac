package auth

import (
	"container/list"
	"strings"
)

// maxCacheBytes bounds the token bytes the cache holds (SPEC §2.2).
const maxCacheBytes = 1 << 20

// CacheOutcome says what the verified-token cache did for one Verify.
type CacheOutcome uint8

const (
	// CacheNone: the cache was not consulted (disabled, or the token was
	// refused before the lookup: empty or oversize).
	CacheNone CacheOutcome = iota
	// CacheHit: the token's signature had been verified before; only the
	// claim rules ran.
	CacheHit
	// CacheMiss: the token was parsed and its signature checked.
	CacheMiss
)

// tokenCache keeps the claims of tokens whose signature verified, least
// recently used first out, within an entry and a byte bound.
type tokenCache struct {
	max   int
	bytes int
	lru   *list.List // of *cacheEntry, most recent at the front
	byTok map[string]*list.Element
}

type cacheEntry struct {
	token  string
	claims tokenClaims
}

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{max: max, lru: list.New(), byTok: map[string]*list.Element{}}
}

func (c *tokenCache) get(tok string) (*tokenClaims, bool) {
	el, ok := c.byTok[tok]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return &el.Value.(*cacheEntry).claims, true
}

func (c *tokenCache) add(tok string, claims tokenClaims) {
	if len(tok) > maxCacheBytes {
		return
	}
	if _, ok := c.byTok[tok]; ok {
		return
	}
	for c.lru.Len() >= c.max || c.bytes+len(tok) > maxCacheBytes {
		c.remove(c.lru.Back())
	}
	tok = strings.Clone(tok) // not a view into the request headers
	c.byTok[tok] = c.lru.PushFront(&cacheEntry{token: tok, claims: claims})
	c.bytes += len(tok)
}

func (c *tokenCache) drop(tok string) {
	if el, ok := c.byTok[tok]; ok {
		c.remove(el)
	}
}

func (c *tokenCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.byTok, e.token)
	c.bytes -= len(e.token)
}

func (c *tokenCache) clear() {
	c.lru.Init()
	clear(c.byTok)
	c.bytes = 0
}

func (c *tokenCache) len() int { return c.lru.Len() }
