package realenvoy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Doc is an Envoy bootstrap as generic JSON values (objects are
// map[string]any, numbers json.Number), for the rewrite and for variants.
type Doc map[string]any

// ParseDoc reads an Envoy YAML (or JSON) bootstrap.
func ParseDoc(yamlText []byte) (Doc, error) {
	j, err := yaml.YAMLToJSON(yamlText)
	if err != nil {
		return nil, fmt.Errorf("realenvoy: parse the configuration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var d Doc
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("realenvoy: parse the configuration: %w", err)
	}
	return d, nil
}

// YAML writes the document back (keys sorted; Envoy does not care).
func (d Doc) YAML() ([]byte, error) {
	j, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}

// Substitution is everything that may differ between the shipped
// configuration and the one a test runs: where things are, never what they do.
type Substitution struct {
	// Clusters maps a cluster name to the host:port its endpoints become.
	// When it is not nil, every static cluster with endpoints must be
	// mapped, so a new cluster never silently resolves a compose host name.
	Clusters map[string]string
	// Files maps a path prefix (such as /etc/envoy/certs/) to its
	// replacement; the longest matching prefix wins. Every "filename" under
	// /etc/envoy/ must match one.
	Files map[string]string
	// KeepPorts binds the admin and listeners to 127.0.0.1 on their
	// configured ports (the local run); otherwise on ports the kernel picks
	// (tests, side by side).
	KeepPorts bool
}

// loopback is where every listener and the admin bind: 127.0.0.1, on port 0
// (the kernel picks, and Envoy reports it through admin) unless keepPort.
func loopback(keepPort bool) map[string]any {
	if keepPort {
		return map[string]any{"address": "127.0.0.1"}
	}
	return map[string]any{"address": "127.0.0.1", "port_value": json.Number("0")}
}

// Rewrite applies sub to a bootstrap: the admin and every static listener
// bind to 127.0.0.1 on a free port, each mapped cluster's endpoints point at
// its address, and file names move by prefix. Nothing else changes.
func Rewrite(d Doc, sub Substitution) error {
	if admin, ok := d["admin"].(map[string]any); ok {
		if err := setSocketAddress(admin, loopback(sub.KeepPorts)); err != nil {
			return fmt.Errorf("realenvoy: admin: %w", err)
		}
	}
	sr, _ := d["static_resources"].(map[string]any)
	for i, l := range list(sr["listeners"]) {
		lm, _ := l.(map[string]any)
		if err := setSocketAddress(lm, loopback(sub.KeepPorts)); err != nil {
			return fmt.Errorf("realenvoy: listener %d: %w", i, err)
		}
	}
	for _, c := range list(sr["clusters"]) {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		la, _ := cm["load_assignment"].(map[string]any)
		if la == nil || sub.Clusters == nil {
			continue
		}
		addr, ok := sub.Clusters[name]
		if !ok {
			return fmt.Errorf("realenvoy: cluster %q has no substitute address", name)
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return fmt.Errorf("realenvoy: cluster %q: %w", name, err)
		}
		for _, e := range list(la["endpoints"]) {
			em, _ := e.(map[string]any)
			for _, lb := range list(em["lb_endpoints"]) {
				lbm, _ := lb.(map[string]any)
				ep, _ := lbm["endpoint"].(map[string]any)
				if err := setSocketAddress(ep, map[string]any{"address": host, "port_value": json.Number(port)}); err != nil {
					return fmt.Errorf("realenvoy: cluster %q: %w", name, err)
				}
			}
		}
	}
	return rewriteFiles(map[string]any(d), sub.Files)
}

// setSocketAddress replaces m.address.socket_address's address and port,
// keeping its other fields (protocol, ...).
func setSocketAddress(m map[string]any, to map[string]any) error {
	a, _ := m["address"].(map[string]any)
	sa, _ := a["socket_address"].(map[string]any)
	if sa == nil {
		return fmt.Errorf("no address.socket_address")
	}
	for k, v := range to {
		sa[k] = v
	}
	return nil
}

func list(v any) []any { l, _ := v.([]any); return l }

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", fmt.Errorf("address %q has no port", addr)
	}
	if _, err := strconv.ParseUint(addr[i+1:], 10, 16); err != nil {
		return "", "", fmt.Errorf("address %q: bad port", addr)
	}
	return addr[:i], addr[i+1:], nil
}

// rewriteFiles moves every "filename" string by the longest matching prefix.
func rewriteFiles(v any, files map[string]string) error {
	prefixes := make([]string, 0, len(files))
	for p := range files {
		prefixes = append(prefixes, p)
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok && k == "filename" {
					moved := false
					for _, p := range prefixes {
						if rest, ok := strings.CutPrefix(s, p); ok {
							x[k], moved = files[p]+rest, true
							break
						}
					}
					if !moved && strings.HasPrefix(s, "/etc/envoy/") {
						return fmt.Errorf("realenvoy: file %s has no substitute", s)
					}
					continue
				}
				if err := walk(val); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v)
}

// WasmFilters are the http_filters entries of every listener's connection
// manager that are Envoy's Wasm filter, for variants that change its
// settings (the typed_config.config map of each).
func (d Doc) WasmFilters() []map[string]any {
	var out []map[string]any
	sr, _ := d["static_resources"].(map[string]any)
	for _, l := range list(sr["listeners"]) {
		lm, _ := l.(map[string]any)
		for _, fc := range list(lm["filter_chains"]) {
			fcm, _ := fc.(map[string]any)
			for _, f := range list(fcm["filters"]) {
				fm, _ := f.(map[string]any)
				tc, _ := fm["typed_config"].(map[string]any)
				for _, hf := range list(tc["http_filters"]) {
					hfm, _ := hf.(map[string]any)
					if hfm["name"] != "envoy.filters.http.wasm" {
						continue
					}
					htc, _ := hfm["typed_config"].(map[string]any)
					if cfg, ok := htc["config"].(map[string]any); ok {
						out = append(out, cfg)
					}
				}
			}
		}
	}
	return out
}

// EditPluginConfig changes the plugin's JSON configuration (the StringValue
// in a Wasm filter's config.configuration) through edit.
func EditPluginConfig(wasmConfig map[string]any, edit func(map[string]any)) error {
	c, _ := wasmConfig["configuration"].(map[string]any)
	text, _ := c["value"].(string)
	var pc map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&pc); err != nil {
		return fmt.Errorf("realenvoy: plugin configuration: %w", err)
	}
	edit(pc)
	b, err := json.Marshal(pc)
	if err != nil {
		return err
	}
	c["value"] = string(b)
	return nil
}
