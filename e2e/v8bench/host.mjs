// A small proxy-wasm host for Node's V8, for measuring the module's own time
// under the engine Envoy runs by default. Run with `node --no-liftoff`, the
// flag proxy-wasm-cpp-host sets for Envoy (TurboFan only).
//
// usage: node --no-liftoff host.mjs input.json
//
// input.json (written by the Go driver, e2e/perftest/perftable_test.go):
// the wasm paths (the module, and optionally a base module to compare it
// with), the plugin configurations (each module runs each in a VM of its
// own; a scenario names its configuration by index), the answers of each
// cluster, and per scenario the requests of every round. A request may carry
// dynamic metadata (what a filter before this one, such as jwt_authn, set),
// served on proxy_get_property metadata paths as Envoy serialises them.
// With a base, every round runs each scenario on both modules, alternating
// which goes first, so before and after share the machine's load. A
// configuration the base refuses (one it predates) is reported, and its
// scenarios run on this module only. Module time of an export call is its wall
// time minus the time spent in host functions; an allocation callback
// nested in a hostcall (proxy_on_memory_allocate) counts as module time.
// It prints one JSON object: per module and scenario the module µs per
// request of each round and of every request, the export names the first
// request called, and the configurations the module refused.

import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { performance } from 'node:perf_hooks';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const enc = new TextEncoder();
const dec = new TextDecoder();
const now = () => performance.now();

const OK = 0, NOT_FOUND = 1, BAD_ARGUMENT = 2, SERIALIZATION_FAILURE = 3, UNIMPLEMENTED = 12;

// Each module is compiled once for all its VMs.
const compiled = new Map();
function compile(wasmPath) {
  if (!compiled.has(wasmPath)) compiled.set(wasmPath, WebAssembly.compile(readFileSync(wasmPath)));
  return compiled.get(wasmPath);
}

// makeHost instantiates one module under one plugin configuration in its
// own host state and returns its runRequest and a way to read its memory
// size; it throws when the module refuses the configuration.
async function makeHost(wasmPath, vmEnv, pluginConfigText) {
  // --- accounting --------------------------------------------------------------
  let hostMs = 0;   // host-function time inside the current export call
  let nestedMs = 0; // module time nested inside host functions (allocations)
  let trace = null; // export names, when tracing the first request

  let instance, mem, exp;
  const bytes = () => new Uint8Array(mem.buffer);
  const view = () => new DataView(mem.buffer);
  const read = (p, n) => bytes().slice(p, p + n);
  const readStr = (p, n) => dec.decode(bytes().subarray(p, p + n));
  const w32 = (p, v) => view().setUint32(p, v >>> 0, true);

  // callExport runs an export and returns [result, module ms].
  function callExport(name, ...args) {
    const f = exp[name];
    if (!f) return [0, 0];
    if (trace) trace.push(name);
    hostMs = 0; nestedMs = 0;
    const t0 = now();
    const r = f(...args);
    const total = now() - t0;
    return [r, total - hostMs];
  }

  // copyOut hands data to the guest as cpp-host does: (0, 0) for empty data,
  // else through proxy_on_memory_allocate.
  function copyOut(data, ptrPtr, sizePtr) {
    if (data.length === 0) { w32(ptrPtr, 0); w32(sizePtr, 0); return OK; }
    const a0 = now();
    const p = exp.proxy_on_memory_allocate(data.length);
    nestedMs += now() - a0;
    bytes().set(data, p);
    w32(ptrPtr, p); w32(sizePtr, data.length);
    return OK;
  }

  function wrapHost(fn) {
    return (...args) => {
      const n0 = nestedMs;
      const t0 = now();
      const r = fn(...args);
      hostMs += (now() - t0) - (nestedMs - n0);
      return r;
    };
  }

  // --- header maps -----------------------------------------------------------
  function encodePairs(pairs) {
    const kv = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)]);
    let size = 4;
    for (const [k, v] of kv) size += 8 + k.length + v.length + 2;
    const out = new Uint8Array(size);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, kv.length, true);
    let o = 4;
    for (const [k, v] of kv) { dv.setUint32(o, k.length, true); dv.setUint32(o + 4, v.length, true); o += 8; }
    for (const [k, v] of kv) { out.set(k, o); o += k.length + 1; out.set(v, o); o += v.length + 1; }
    return out;
  }

  function decodePairs(b) {
    if (b.length === 0) return [];
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const n = dv.getUint32(0, true);
    const lens = [];
    let o = 4;
    for (let i = 0; i < n; i++) { lens.push([dv.getUint32(o, true), dv.getUint32(o + 4, true)]); o += 8; }
    const out = [];
    for (const [kl, vl] of lens) {
      const k = dec.decode(b.subarray(o, o + kl)); o += kl + 1;
      const v = dec.decode(b.subarray(o, o + vl)); o += vl + 1;
      out.push([k, v]);
    }
    return out;
  }

  // serializeValue is Envoy's (context.cc): a string as its bytes, a number
  // as an 8-byte little-endian double, a bool as one byte, an object or list
  // as pairs (a list's values empty), null not at all.
  function serializeValue(v) {
    if (typeof v === 'string') return enc.encode(v);
    if (typeof v === 'number') { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return b; }
    if (typeof v === 'boolean') return new Uint8Array([v ? 1 : 0]);
    if (Array.isArray(v)) return encodePairs(v.map((x) => [dec.decode(serializeValue(x) || new Uint8Array(0)), '']));
    if (v !== null && typeof v === 'object') return encodePairs(Object.entries(v).map(([k, x]) => [k, dec.decode(serializeValue(x) || new Uint8Array(0))]));
    return null;
  }

  // --- the stream state the hostcalls act on ---------------------------------
  const rootID = 1;
  let nextID = 2;
  let effective = rootID;
  let configuring = false;
  let stream = null; // {id, reqHeaders, reqBody, resHeaders, resBody, local, bodyVisible}
  let callResp = null;
  let callouts = [];
  let nextToken = 1;
  const metrics = new Map();
  let nextMetric = 1;
  const pluginConfig = enc.encode(pluginConfigText);
  const logs = [];

  const mapOf = (t) => {
    if (t === 6) return callResp ? callResp.headers : null;
    if (t === 7) return callResp ? [] : null;
    if (!stream || effective !== stream.id) return null;
    if (t === 0) return stream.reqHeaders;
    if (t === 2) return stream.resHeaders;
    return [];
  };
  const bufferOf = (t) => {
    if (t === 7) return configuring ? pluginConfig : null;
    if (t === 6) return new Uint8Array(0);
    if (t === 4) return callResp ? callResp.body : null;
    if (!stream) return null;
    if (t === 0) return stream.bodyVisible === 'request' ? stream.reqBody : null;
    if (t === 1) return stream.bodyVisible === 'response' ? stream.resBody : null;
    return null;
  };

  const env = {
    proxy_log(level, p, n) { if (level >= 3) logs.push(readStr(p, n)); return OK; },
    proxy_get_log_level(p) { w32(p, 0); return OK; },
    proxy_get_current_time_nanoseconds(p) {
      view().setBigUint64(p, BigInt(Date.now()) * 1000000n, true); return OK;
    },
    proxy_set_tick_period_milliseconds() { return OK; },
    proxy_done() { return OK; },
    proxy_set_effective_context(id) { effective = id; return OK; },
    proxy_get_buffer_bytes(t, start, max, pp, sp) {
      const b = bufferOf(t);
      if (!b) return NOT_FOUND;
      if (start > b.length) return BAD_ARGUMENT;
      return copyOut(b.subarray(start, Math.min(b.length, start + max)), pp, sp);
    },
    proxy_get_buffer_status(t, lp, fp) {
      const b = bufferOf(t);
      if (!b) return NOT_FOUND;
      w32(lp, b.length); w32(fp, 0); return OK;
    },
    proxy_set_buffer_bytes() { return OK; },
    proxy_get_header_map_pairs(t, pp, sp) {
      const m = mapOf(t);
      return copyOut(m && m.length ? encodePairs(m) : new Uint8Array(0), pp, sp);
    },
    proxy_get_header_map_size(t, sp) {
      const m = mapOf(t);
      if (!m) return BAD_ARGUMENT;
      w32(sp, encodePairs(m).length); return OK;
    },
    proxy_get_header_map_value(t, kp, kn, vp, vs) {
      const m = mapOf(t);
      if (!m) return BAD_ARGUMENT;
      const key = readStr(kp, kn).toLowerCase();
      const kv = m.find(([k]) => k === key);
      if (!kv) return NOT_FOUND;
      return copyOut(enc.encode(kv[1]), vp, vs);
    },
    proxy_set_header_map_pairs(t, p, n) {
      const m = mapOf(t);
      if (!m) return BAD_ARGUMENT;
      m.splice(0, m.length, ...decodePairs(read(p, n)).map(([k, v]) => [k.toLowerCase(), v]));
      return OK;
    },
    proxy_add_header_map_value(t, kp, kn, vp, vn) {
      const m = mapOf(t);
      if (!m) return BAD_ARGUMENT;
      m.push([readStr(kp, kn).toLowerCase(), readStr(vp, vn)]); return OK;
    },
    proxy_replace_header_map_value(t, kp, kn, vp, vn) {
      const m = mapOf(t);
      if (!m) return BAD_ARGUMENT;
      const k = readStr(kp, kn).toLowerCase();
      const rest = m.filter(([x]) => x !== k);
      m.splice(0, m.length, ...rest, [k, readStr(vp, vn)]); return OK;
    },
    proxy_remove_header_map_value(t, kp, kn) {
      const m = mapOf(t);
      if (!m) return BAD_ARGUMENT;
      const k = readStr(kp, kn).toLowerCase();
      m.splice(0, m.length, ...m.filter(([x]) => x !== k)); return OK;
    },
    proxy_continue_stream() { return OK; },
    proxy_close_stream() { return OK; },
    proxy_get_status(cp, mp, ms) { w32(cp, 0); return copyOut(new Uint8Array(0), mp, ms); },
    proxy_send_local_response(status, dp, dn, bp, bn, hp, hn) {
      if (!stream || effective !== stream.id) return OK;
      stream.local = { status, body: read(bp, bn), headers: decodePairs(read(hp, hn)) };
      return OK;
    },
    proxy_http_call(cp, cn, hp, hn, bp, bn, tp, tn, timeout, tokenPtr) {
      const cluster = readStr(cp, cn);
      const answer = input.clusters[cluster];
      if (!answer) return BAD_ARGUMENT;
      decodePairs(read(hp, hn)); read(bp, bn); // as a host would, to send them
      const token = nextToken++;
      callouts.push({ token, answer });
      w32(tokenPtr, token);
      return OK;
    },
    proxy_get_property(pp, pn, vp, vs) {
      // Segments joined with NUL, walked as Envoy's Context::getProperty does.
      const segs = readStr(pp, pn).split('\0');
      if (segs[0] !== 'metadata' || segs[1] !== 'filter_metadata' || !stream || !stream.metadata) return NOT_FOUND;
      let v = stream.metadata;
      for (const seg of segs.slice(2)) {
        if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) return NOT_FOUND;
        v = v[seg];
      }
      const leaf = serializeValue(v);
      return leaf === null ? SERIALIZATION_FAILURE : copyOut(leaf, vp, vs);
    },
    proxy_set_property() { return OK; },
    proxy_get_shared_data() { return NOT_FOUND; },
    proxy_set_shared_data() { return OK; },
    proxy_define_metric(type, np, nn, idp) {
      const name = readStr(np, nn);
      if (!metrics.has(name)) metrics.set(name, nextMetric++);
      w32(idp, metrics.get(name)); return OK;
    },
    proxy_increment_metric() { return OK; },
    proxy_record_metric() { return OK; },
    proxy_get_metric(id, p) { view().setBigUint64(p, 0n, true); return OK; },
  };

  // --- instantiate -------------------------------------------------------------
  const module = await compile(wasmPath);
  const wasi = new WASI({ version: 'preview1', args: [], env: vmEnv || {}, returnOnExit: true });
  const wasiImport = {};
  for (const [k, f] of Object.entries(wasi.wasiImport)) wasiImport[k] = wrapHost(f.bind(wasi.wasiImport));
  const envImport = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'env' || imp.kind !== 'function') continue;
    const f = env[imp.name] || (() => UNIMPLEMENTED);
    envImport[imp.name] = wrapHost(f);
  }
  instance = await WebAssembly.instantiate(module, { env: envImport, wasi_snapshot_preview1: wasiImport });
  exp = instance.exports;
  mem = exp.memory;
  wasi.initialize(instance);

  callExport('proxy_on_context_create', rootID, 0);
  if (!callExport('proxy_on_vm_start', rootID, 0)[0]) throw new Error('proxy_on_vm_start returned false');
  configuring = true;
  const [configured] = callExport('proxy_on_configure', rootID, pluginConfig.length);
  configuring = false;
  if (!configured) throw new Error('proxy_on_configure returned false: ' + logs.join('; '));

  // --- one request, in the order Envoy (and e2e/envoyhost) calls back --------
  function encodeResponse(status, headers, body, ms, local) {
    const h = [[':status', String(status)], ...headers.map(([k, v]) => [k.toLowerCase(), v])];
    if (local) {
      // Envoy's local reply adds these.
      if (body.length && !h.some(([k]) => k === 'content-type')) h.push(['content-type', 'text/plain']);
      h.push(['content-length', String(body.length)]);
    }
    stream.resHeaders = h; stream.resBody = body; stream.local = null;
    ms += callExport('proxy_on_response_headers', stream.id, h.length, body.length ? 0 : 1)[1];
    if (body.length) {
      stream.bodyVisible = 'response';
      ms += callExport('proxy_on_response_body', stream.id, body.length, 1)[1];
    }
    return ms;
  }

  // runRequest returns [status, module ms].
  function runRequest(r) {
    const id = nextID++;
    const body = enc.encode(r.body || '');
    stream = { id, metadata: r.metadata || null, reqHeaders: r.headers.map(([k, v]) => [k.toLowerCase(), v]), reqBody: body, resHeaders: [], resBody: new Uint8Array(0), local: null, bodyVisible: null };
    let ms = 0, status = 0, paused = false;
    const call = (name, ...args) => { effective = id; const [res, m] = callExport(name, id, ...args); ms += m; return res; };
    call('proxy_on_context_create', rootID);
    let action = call('proxy_on_request_headers', stream.reqHeaders.length, body.length ? 0 : 1);
    if (stream.local === null && body.length) {
      // Headers passed on or paused (StopAll buffers the body): the body
      // callback comes once the whole body is there.
      stream.bodyVisible = 'request';
      action = call('proxy_on_request_body', body.length, 1);
      stream.bodyVisible = null;
    }
    paused = action !== 0;
    while (stream.local === null && callouts.length) {
      const c = callouts.shift();
      const a = c.answer;
      callResp = { headers: [[':status', String(a.status)], ...a.headers], body: enc.encode(a.body) };
      effective = rootID;
      ms += callExport('proxy_on_http_call_response', rootID, c.token, callResp.headers.length, callResp.body.length, 0)[1];
      callResp = null;
    }
    effective = id;
    if (stream.local) {
      status = stream.local.status;
      ms = encodeResponse(status, stream.local.headers, stream.local.body, ms, true);
    } else if (!paused) {
      const a = input.clusters[input.route];
      status = a.status;
      ms = encodeResponse(status, a.headers, enc.encode(a.body), ms, false);
    }
    call('proxy_on_log');
    call('proxy_on_done');
    call('proxy_on_delete');
    stream = null;
    return [status, ms];
  }
  return { runRequest, logs, setTrace: (t) => { trace = t; }, memoryBytes: () => mem.buffer.byteLength };
}

// --- rounds ------------------------------------------------------------------
// hosts[m][c]: module m (this, then the base) under configuration c; null
// where the base refused it.
const modules = [[input.wasm, input.env]];
if (input.baseWasm) modules.push([input.baseWasm, undefined]);
const out = { modules: modules.map(() => ({ scenarios: {}, refused: {} })) };
const hosts = [];
for (const [m, [path, vmEnv]] of modules.entries()) {
  const vms = [];
  for (const [c, cfg] of input.pluginConfigs.entries()) {
    try {
      vms.push(await makeHost(path, vmEnv, cfg));
    } catch (e) {
      if (m === 0) throw e;
      out.modules[m].refused[c] = String(e.message || e);
      vms.push(null);
    }
  }
  hosts.push(vms);
}
hosts.forEach((vms, m) => {
  for (const sc of input.scenarios) {
    const h = vms[sc.config];
    if (!h) continue;
    const trace = [];
    h.setTrace(trace);
    const [st] = h.runRequest(sc.warmup);
    h.setTrace(null);
    out.modules[m].scenarios[sc.name] = { exports: trace, rounds: [], requests: [] };
    if (st !== sc.status) throw new Error(`${sc.name}: status ${st}, want ${sc.status}; logs: ${h.logs.join('; ')}`);
    for (let i = 0; i < 3; i++) h.runRequest(sc.warmup);
  }
});
for (let round = 0; round < input.rounds; round++) {
  for (const sc of input.scenarios) {
    const reqs = sc.requests[round];
    // Alternate which module goes first, so neither always runs warm.
    const order = hosts.map((_, m) => m);
    if (round % 2 === 1) order.reverse();
    for (const m of order) {
      const h = hosts[m][sc.config];
      if (!h) continue;
      let total = 0;
      for (const r of reqs) {
        const [st, ms] = h.runRequest(r);
        if (st !== sc.status) throw new Error(`${sc.name}: status ${st}, want ${sc.status}; logs: ${h.logs.join('; ')}`);
        total += ms;
        out.modules[m].scenarios[sc.name].requests.push(ms * 1000);
      }
      out.modules[m].scenarios[sc.name].rounds.push(total * 1000 / reqs.length);
    }
  }
}
hosts.forEach((vms, m) => { out.modules[m].memoryBytes = vms[0].memoryBytes(); });
process.stdout.write(JSON.stringify(out) + '\n');
