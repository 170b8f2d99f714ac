//go:build wasip1 && !tinygo

package bridge

import "unsafe"

// hostABI mirrors the SDK's internal.ProxyWasmHost method for method, with
// uint32 in place of the SDK's internal named types (LogLevel, Status,
// MapType, BufferType, StreamType, MetricType are all uint32 underneath).
// Method tables are sorted by name, so an interface value of this type has
// the same layout as one of the SDK's interface and the SDK's calls through
// currentHost land on the right methods.
type hostABI interface {
	ProxyLog(logLevel uint32, messageData *byte, messageSize int) uint32
	ProxySetProperty(pathData *byte, pathSize int, valueData *byte, valueSize int) uint32
	ProxyGetProperty(pathData *byte, pathSize int, returnValueData **byte, returnValueSize *int) uint32
	ProxySendLocalResponse(statusCode uint32, statusCodeDetailData *byte, statusCodeDetailsSize int, bodyData *byte, bodySize int, headersData *byte, headersSize int, grpcStatus int32) uint32
	ProxyGetSharedData(keyData *byte, keySize int, returnValueData **byte, returnValueSize *int, returnCas *uint32) uint32
	ProxySetSharedData(keyData *byte, keySize int, valueData *byte, valueSize int, cas uint32) uint32
	ProxyRegisterSharedQueue(nameData *byte, nameSize int, returnID *uint32) uint32
	ProxyResolveSharedQueue(vmIDData *byte, vmIDSize int, nameData *byte, nameSize int, returnID *uint32) uint32
	ProxyDequeueSharedQueue(queueID uint32, returnValueData **byte, returnValueSize *int) uint32
	ProxyEnqueueSharedQueue(queueID uint32, valueData *byte, valueSize int) uint32
	ProxyGetHeaderMapValue(mapType uint32, keyData *byte, keySize int, returnValueData **byte, returnValueSize *int) uint32
	ProxyAddHeaderMapValue(mapType uint32, keyData *byte, keySize int, valueData *byte, valueSize int) uint32
	ProxyReplaceHeaderMapValue(mapType uint32, keyData *byte, keySize int, valueData *byte, valueSize int) uint32
	ProxyContinueStream(streamType uint32) uint32
	ProxyCloseStream(streamType uint32) uint32
	ProxyRemoveHeaderMapValue(mapType uint32, keyData *byte, keySize int) uint32
	ProxyGetHeaderMapPairs(mapType uint32, returnValueData **byte, returnValueSize *int) uint32
	ProxySetHeaderMapPairs(mapType uint32, mapData *byte, mapSize int) uint32
	ProxyGetBufferBytes(bufferType uint32, start int, maxSize int, returnBufferData **byte, returnBufferSize *int) uint32
	ProxySetBufferBytes(bufferType uint32, start int, maxSize int, bufferData *byte, bufferSize int) uint32
	ProxyHttpCall(upstreamData *byte, upstreamSize int, headerData *byte, headerSize int, bodyData *byte, bodySize int, trailersData *byte, trailersSize int, timeout uint32, calloutIDPtr *uint32) uint32
	ProxyCallForeignFunction(funcNamePtr *byte, funcNameSize int, paramPtr *byte, paramSize int, returnData **byte, returnSize *int) uint32
	ProxySetTickPeriodMilliseconds(period uint32) uint32
	ProxySetEffectiveContext(contextID uint32) uint32
	ProxyDone() uint32
	ProxyDefineMetric(metricType uint32, metricNameData *byte, metricNameSize int, returnMetricIDPtr *uint32) uint32
	ProxyIncrementMetric(metricID uint32, offset int64) uint32
	ProxyRecordMetric(metricID uint32, value uint64) uint32
	ProxyGetMetric(metricID uint32, returnMetricValue *uint64) uint32
}

//go:linkname registerMockWasmHost github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.RegisterMockWasmHost
func registerMockWasmHost(h hostABI) (release func())

// keepHostMethods is never set. The branch it guards calls every method
// through hostABI, which is what makes the linker keep them: the SDK calls
// them through its own interface type, whose signatures the linker cannot
// match to ours, and without this the method table would hold "unreachable
// method" traps and the module would import no env.proxy_* at all.
var keepHostMethods bool

func init() {
	// Only an assignment: no hostcall may run while Envoy runs _initialize.
	registerMockWasmHost(wasmHost{})
	if keepHostMethods {
		callEveryMethod(wasmHost{})
	}
}

func callEveryMethod(h hostABI) {
	var p *byte
	var n int
	var u uint32
	var u64 uint64
	h.ProxyLog(0, nil, 0)
	h.ProxySetProperty(nil, 0, nil, 0)
	h.ProxyGetProperty(nil, 0, &p, &n)
	h.ProxySendLocalResponse(0, nil, 0, nil, 0, nil, 0, 0)
	h.ProxyGetSharedData(nil, 0, &p, &n, &u)
	h.ProxySetSharedData(nil, 0, nil, 0, 0)
	h.ProxyRegisterSharedQueue(nil, 0, &u)
	h.ProxyResolveSharedQueue(nil, 0, nil, 0, &u)
	h.ProxyDequeueSharedQueue(0, &p, &n)
	h.ProxyEnqueueSharedQueue(0, nil, 0)
	h.ProxyGetHeaderMapValue(0, nil, 0, &p, &n)
	h.ProxyAddHeaderMapValue(0, nil, 0, nil, 0)
	h.ProxyReplaceHeaderMapValue(0, nil, 0, nil, 0)
	h.ProxyContinueStream(0)
	h.ProxyCloseStream(0)
	h.ProxyRemoveHeaderMapValue(0, nil, 0)
	h.ProxyGetHeaderMapPairs(0, &p, &n)
	h.ProxySetHeaderMapPairs(0, nil, 0)
	h.ProxyGetBufferBytes(0, 0, 0, &p, &n)
	h.ProxySetBufferBytes(0, 0, 0, nil, 0)
	h.ProxyHttpCall(nil, 0, nil, 0, nil, 0, nil, 0, 0, &u)
	h.ProxyCallForeignFunction(nil, 0, nil, 0, &p, &n)
	h.ProxySetTickPeriodMilliseconds(0)
	h.ProxySetEffectiveContext(0)
	h.ProxyDone()
	h.ProxyDefineMetric(0, nil, 0, &u)
	h.ProxyIncrementMetric(0, 0)
	h.ProxyRecordMetric(0, 0)
	h.ProxyGetMetric(0, &u64)
}

// wasmHost forwards every SDK hostcall to the real host import.
type wasmHost struct{}

// out converts the host's (pointer, size) answer into the SDK's out-slots and
// drops the bridge's own reference to the buffer.
func out(raw *byte, size uint32, retData **byte, retSize *int) {
	*retData = raw
	*retSize = int(size)
	release()
}

func (wasmHost) ProxyLog(level uint32, msg *byte, size int) uint32 {
	return proxyLog(level, msg, uint32(size))
}

func (wasmHost) ProxySetProperty(path *byte, pathSize int, value *byte, valueSize int) uint32 {
	return proxySetProperty(path, uint32(pathSize), value, uint32(valueSize))
}

func (wasmHost) ProxyGetProperty(path *byte, pathSize int, retData **byte, retSize *int) uint32 {
	var raw *byte
	var n uint32
	st := proxyGetProperty(path, uint32(pathSize), unsafe.Pointer(&raw), &n)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxySendLocalResponse(status uint32, details *byte, detailsSize int, body *byte, bodySize int, headers *byte, headersSize int, grpcStatus int32) uint32 {
	return proxySendLocalResponse(status, details, uint32(detailsSize), body, uint32(bodySize), headers, uint32(headersSize), grpcStatus)
}

func (wasmHost) ProxyGetSharedData(key *byte, keySize int, retData **byte, retSize *int, retCas *uint32) uint32 {
	var raw *byte
	var n uint32
	st := proxyGetSharedData(key, uint32(keySize), unsafe.Pointer(&raw), &n, retCas)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxySetSharedData(key *byte, keySize int, value *byte, valueSize int, cas uint32) uint32 {
	return proxySetSharedData(key, uint32(keySize), value, uint32(valueSize), cas)
}

func (wasmHost) ProxyRegisterSharedQueue(name *byte, nameSize int, retID *uint32) uint32 {
	return proxyRegisterSharedQueue(name, uint32(nameSize), retID)
}

func (wasmHost) ProxyResolveSharedQueue(vmID *byte, vmIDSize int, name *byte, nameSize int, retID *uint32) uint32 {
	return proxyResolveSharedQueue(vmID, uint32(vmIDSize), name, uint32(nameSize), retID)
}

func (wasmHost) ProxyDequeueSharedQueue(queueID uint32, retData **byte, retSize *int) uint32 {
	var raw *byte
	var n uint32
	st := proxyDequeueSharedQueue(queueID, unsafe.Pointer(&raw), &n)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxyEnqueueSharedQueue(queueID uint32, value *byte, valueSize int) uint32 {
	return proxyEnqueueSharedQueue(queueID, value, uint32(valueSize))
}

func (wasmHost) ProxyGetHeaderMapValue(mapType uint32, key *byte, keySize int, retData **byte, retSize *int) uint32 {
	var raw *byte
	var n uint32
	st := proxyGetHeaderMapValue(mapType, key, uint32(keySize), unsafe.Pointer(&raw), &n)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxyAddHeaderMapValue(mapType uint32, key *byte, keySize int, value *byte, valueSize int) uint32 {
	return proxyAddHeaderMapValue(mapType, key, uint32(keySize), value, uint32(valueSize))
}

func (wasmHost) ProxyReplaceHeaderMapValue(mapType uint32, key *byte, keySize int, value *byte, valueSize int) uint32 {
	return proxyReplaceHeaderMapValue(mapType, key, uint32(keySize), value, uint32(valueSize))
}

func (wasmHost) ProxyContinueStream(streamType uint32) uint32 { return proxyContinueStream(streamType) }

func (wasmHost) ProxyCloseStream(streamType uint32) uint32 { return proxyCloseStream(streamType) }

func (wasmHost) ProxyRemoveHeaderMapValue(mapType uint32, key *byte, keySize int) uint32 {
	return proxyRemoveHeaderMapValue(mapType, key, uint32(keySize))
}

func (wasmHost) ProxyGetHeaderMapPairs(mapType uint32, retData **byte, retSize *int) uint32 {
	var raw *byte
	var n uint32
	st := proxyGetHeaderMapPairs(mapType, unsafe.Pointer(&raw), &n)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxySetHeaderMapPairs(mapType uint32, data *byte, size int) uint32 {
	return proxySetHeaderMapPairs(mapType, data, uint32(size))
}

func (wasmHost) ProxyGetBufferBytes(bufferType uint32, start int, maxSize int, retData **byte, retSize *int) uint32 {
	var raw *byte
	var n uint32
	st := proxyGetBufferBytes(bufferType, uint32(start), uint32(maxSize), unsafe.Pointer(&raw), &n)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxySetBufferBytes(bufferType uint32, start int, size int, data *byte, dataSize int) uint32 {
	return proxySetBufferBytes(bufferType, uint32(start), uint32(size), data, uint32(dataSize))
}

func (wasmHost) ProxyHttpCall(upstream *byte, upstreamSize int, headers *byte, headersSize int, body *byte, bodySize int, trailers *byte, trailersSize int, timeout uint32, retID *uint32) uint32 {
	return proxyHttpCall(upstream, uint32(upstreamSize), headers, uint32(headersSize), body, uint32(bodySize), trailers, uint32(trailersSize), timeout, retID)
}

func (wasmHost) ProxyCallForeignFunction(name *byte, nameSize int, args *byte, argsSize int, retData **byte, retSize *int) uint32 {
	var raw *byte
	var n uint32
	st := proxyCallForeignFunction(name, uint32(nameSize), args, uint32(argsSize), unsafe.Pointer(&raw), &n)
	out(raw, n, retData, retSize)
	return st
}

func (wasmHost) ProxySetTickPeriodMilliseconds(period uint32) uint32 {
	return proxySetTickPeriodMilliseconds(period)
}

func (wasmHost) ProxySetEffectiveContext(contextID uint32) uint32 {
	return proxySetEffectiveContext(contextID)
}

func (wasmHost) ProxyDone() uint32 { return proxyDone() }

func (wasmHost) ProxyDefineMetric(metricType uint32, name *byte, nameSize int, retID *uint32) uint32 {
	return proxyDefineMetric(metricType, name, uint32(nameSize), retID)
}

func (wasmHost) ProxyIncrementMetric(metricID uint32, offset int64) uint32 {
	return proxyIncrementMetric(metricID, offset)
}

func (wasmHost) ProxyRecordMetric(metricID uint32, value uint64) uint32 {
	return proxyRecordMetric(metricID, value)
}

func (wasmHost) ProxyGetMetric(metricID uint32, retValue *uint64) uint32 {
	return proxyGetMetric(metricID, retValue)
}
