//go:build wasip1 && !tinygo

package bridge

import "unsafe"

// Host functions of proxy-wasm ABI 0.2.1, imported from module "env".
// Sizes are 32-bit; "return pointer" slots are unsafe.Pointer to a zeroed,
// pointer-typed Go variable, into whose low half the host writes a wasm32
// address (little-endian), which makes it a valid Go pointer.

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg *byte, msgLen uint32) uint32

//go:wasmimport env proxy_set_property
func proxySetProperty(path *byte, pathLen uint32, value *byte, valueLen uint32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path *byte, pathLen uint32, retData unsafe.Pointer, retLen *uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details *byte, detailsLen uint32, body *byte, bodyLen uint32, headers *byte, headersLen uint32, grpcStatus int32) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key *byte, keyLen uint32, retData unsafe.Pointer, retLen *uint32, retCas *uint32) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key *byte, keyLen uint32, value *byte, valueLen uint32, cas uint32) uint32

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name *byte, nameLen uint32, retID *uint32) uint32

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID *byte, vmIDLen uint32, name *byte, nameLen uint32, retID *uint32) uint32

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(queueID uint32, retData unsafe.Pointer, retLen *uint32) uint32

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(queueID uint32, value *byte, valueLen uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key *byte, keyLen uint32, retData unsafe.Pointer, retLen *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key *byte, keyLen uint32, value *byte, valueLen uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key *byte, keyLen uint32, value *byte, valueLen uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key *byte, keyLen uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retData unsafe.Pointer, retLen *uint32) uint32

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(mapType uint32, data *byte, dataLen uint32) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType uint32) uint32

//go:wasmimport env proxy_close_stream
func proxyCloseStream(streamType uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType uint32, start uint32, maxSize uint32, retData unsafe.Pointer, retLen *uint32) uint32

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bufferType uint32, start uint32, size uint32, data *byte, dataLen uint32) uint32

//go:wasmimport env proxy_http_call
func proxyHttpCall(upstream *byte, upstreamLen uint32, headers *byte, headersLen uint32, body *byte, bodyLen uint32, trailers *byte, trailersLen uint32, timeoutMs uint32, retID *uint32) uint32

//go:wasmimport env proxy_call_foreign_function
func proxyCallForeignFunction(name *byte, nameLen uint32, args *byte, argsLen uint32, retData unsafe.Pointer, retLen *uint32) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriodMilliseconds(period uint32) uint32

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(contextID uint32) uint32

//go:wasmimport env proxy_done
func proxyDone() uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name *byte, nameLen uint32, retID *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(metricID uint32, offset int64) uint32

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(metricID uint32, value uint64) uint32

//go:wasmimport env proxy_get_metric
func proxyGetMetric(metricID uint32, retValue *uint64) uint32
