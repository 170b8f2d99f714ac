package envoyhost

// SDKHostcalls are the env.proxy_* imports proxy-wasm-go-sdk v0.24.0 can
// call (its internal ProxyWasmHost interface). A plugin built through the
// bridge must import every one of them.
var SDKHostcalls = []string{
	"proxy_log", "proxy_set_property", "proxy_get_property", "proxy_send_local_response",
	"proxy_get_shared_data", "proxy_set_shared_data", "proxy_register_shared_queue",
	"proxy_resolve_shared_queue", "proxy_dequeue_shared_queue", "proxy_enqueue_shared_queue",
	"proxy_get_header_map_value", "proxy_add_header_map_value", "proxy_replace_header_map_value",
	"proxy_continue_stream", "proxy_close_stream", "proxy_remove_header_map_value",
	"proxy_get_header_map_pairs", "proxy_set_header_map_pairs", "proxy_get_buffer_bytes",
	"proxy_set_buffer_bytes", "proxy_http_call", "proxy_call_foreign_function",
	"proxy_set_tick_period_milliseconds", "proxy_set_effective_context", "proxy_done",
	"proxy_define_metric", "proxy_increment_metric", "proxy_record_metric", "proxy_get_metric",
}
