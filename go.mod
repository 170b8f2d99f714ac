module github.com/firmly/session-transfer-filter

go 1.25.0

require (
	github.com/cristalhq/jwt/v4 v4.0.2
	github.com/tetratelabs/proxy-wasm-go-sdk v0.24.0
	github.com/tetratelabs/wazero v1.12.0
	github.com/tidwall/gjson v1.20.2
)

require (
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.3.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
)
