// Our own stand-in for github.com/tidwall/pretty, wired in by a replace directive in the root
// go.mod so that gjson's @pretty/@ugly modifiers no longer link encoding/json into plugin.wasm.
module github.com/tidwall/pretty

go 1.26

require github.com/tidwall/gjson v1.20.2

require github.com/tidwall/match v1.1.1 // indirect
