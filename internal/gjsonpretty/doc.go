// Package pretty is this repository's own, minimal replacement for github.com/tidwall/pretty.
//
// Why it exists: github.com/tidwall/gjson registers its @pretty and @ugly modifiers in an
// init-time map, so whatever package provides them is always linked into plugin.wasm, even
// though the filter never passes a gjson path containing '@'. The upstream package sorts keys
// with encoding/json, which drags encoding/json and much of reflect (several hundred KB of code
// and data) into the module. The root go.mod replaces github.com/tidwall/pretty with this
// directory; it offers exactly the API gjson calls and depends on nothing but the standard
// library (never encoding/json outside tests).
//
// Behaviour: Ugly removes insignificant whitespace; PrettyOptions puts each object member and
// array element on its own line, and can sort object members by decoded key. Strings are copied
// byte for byte. Invalid input never panics: it is reformatted token by token as well as it can
// be and, where its structure is unclear, left unsorted.
package pretty
