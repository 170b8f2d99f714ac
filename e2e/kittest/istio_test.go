package kittest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	extensions "istio.io/api/extensions/v1alpha1"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/firmly/session-transfer-filter/internal/config"
)

// The Istio kit in e2e/istio cannot be applied here (no cluster), so every
// manifest is checked against istio.io/api's messages, strictly: protojson
// alone accepts proto (snake_case) field names such as plugin_config, which
// Kubernetes' structural schemas then prune or refuse, so the JSON keys are
// checked against each descriptor's JSON names first.

// istioKinds maps apiVersion/kind to the spec's message.
var istioKinds = map[string]func() proto.Message{
	"extensions.istio.io/v1alpha1/WasmPlugin":    func() proto.Message { return &extensions.WasmPlugin{} },
	"networking.istio.io/v1/ServiceEntry":        func() proto.Message { return &networking.ServiceEntry{} },
	"networking.istio.io/v1/DestinationRule":     func() proto.Message { return &networking.DestinationRule{} },
	"networking.istio.io/v1/VirtualService":      func() proto.Message { return &networking.VirtualService{} },
	"networking.istio.io/v1/Gateway":             func() proto.Message { return &networking.Gateway{} },
	"security.istio.io/v1/RequestAuthentication": func() proto.Message { return &security.RequestAuthentication{} },
}

// k8sObject is one YAML document of the kit.
type k8sObject struct {
	File       string
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
	raw  []byte          // the whole document as JSON
	msg  proto.Message   // the parsed spec, for Istio kinds
}

// splitYAML returns the JSON of each document of a multi-document YAML file.
func splitYAML(data []byte) ([][]byte, error) {
	var out [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, js)
	}
	return out, nil
}

// strictFields reports every key of v that is not the JSON name of a field
// of md (recursively), and every enum value that is not one of its names.
func strictFields(path string, v any, md protoreflect.MessageDescriptor) []string {
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
		return nil // free-form JSON (pluginConfig)
	case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.FieldMask":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: must be a string", path)}
		}
		return nil
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") && strings.HasSuffix(string(md.Name()), "Value") {
		return nil // wrappers are plain scalars; protojson checks their type
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: must be an object (%s)", path, md.FullName())}
	}
	var errs []string
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fp := k
		if path != "" {
			fp = path + "." + k
		}
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			if alt := md.Fields().ByName(protoreflect.Name(k)); alt != nil {
				errs = append(errs, fmt.Sprintf("%s: proto field name; the manifest must use %q", fp, alt.JSONName()))
			} else {
				errs = append(errs, fmt.Sprintf("%s: unknown field of %s", fp, md.FullName()))
			}
			continue
		}
		errs = append(errs, strictValue(fp, obj[k], fd)...)
	}
	return errs
}

func strictValue(path string, v any, fd protoreflect.FieldDescriptor) []string {
	if v == nil {
		return nil
	}
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: must be an object", path)}
		}
		var errs []string
		for k, mv := range m {
			errs = append(errs, strictSingle(path+"."+k, mv, fd.MapValue())...)
		}
		return errs
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: must be an array", path)}
		}
		var errs []string
		for i, e := range l {
			errs = append(errs, strictSingle(fmt.Sprintf("%s[%d]", path, i), e, fd)...)
		}
		return errs
	}
	return strictSingle(path, v, fd)
}

func strictSingle(path string, v any, fd protoreflect.FieldDescriptor) []string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return strictFields(path, v, fd.Message())
	case protoreflect.EnumKind:
		s, ok := v.(string)
		if !ok || fd.Enum().Values().ByName(protoreflect.Name(s)) == nil {
			var names []string
			for i := 0; i < fd.Enum().Values().Len(); i++ {
				names = append(names, string(fd.Enum().Values().Get(i).Name()))
			}
			return []string{fmt.Sprintf("%s: %v is not one of %v", path, v, names)}
		}
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`) // the WasmPlugin CRD's own pattern

// parseIstioObject checks one document: the envelope, the spec's field names
// strictly, its values with protojson, then the rules Istio's CRD schema adds.
func parseIstioObject(js []byte) (*k8sObject, error) {
	var top map[string]any
	if err := json.Unmarshal(js, &top); err != nil {
		return nil, err
	}
	for k := range top {
		if !slices.Contains([]string{"apiVersion", "kind", "metadata", "spec"}, k) {
			return nil, fmt.Errorf("unknown top-level field %q", k)
		}
	}
	o := &k8sObject{raw: js}
	if err := json.Unmarshal(js, o); err != nil {
		return nil, err
	}
	if o.Metadata.Name == "" || o.Metadata.Namespace == "" {
		return nil, fmt.Errorf("%s: metadata.name and metadata.namespace are required", o.Kind)
	}
	newMsg, ok := istioKinds[o.APIVersion+"/"+o.Kind]
	if !ok {
		return nil, fmt.Errorf("%s %s: not an Istio kind this kit uses", o.APIVersion, o.Kind)
	}
	var spec any
	if err := json.Unmarshal(o.Spec, &spec); err != nil {
		return nil, err
	}
	msg := newMsg()
	if errs := strictFields("spec", spec, msg.ProtoReflect().Descriptor()); len(errs) > 0 {
		return nil, fmt.Errorf("%s %s: %s", o.Kind, o.Metadata.Name, strings.Join(errs, "; "))
	}
	if err := protojson.Unmarshal(o.Spec, msg); err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Metadata.Name, err)
	}
	if wp, ok := msg.(*extensions.WasmPlugin); ok {
		if !sha256Hex.MatchString(wp.GetSha256()) {
			return nil, fmt.Errorf("WasmPlugin %s: spec.sha256 %q: want 64 lower-case hex characters (the image digest)", o.Metadata.Name, wp.GetSha256())
		}
		if !regexp.MustCompile(`^(oci|https?|file)://`).MatchString(wp.GetUrl()) {
			return nil, fmt.Errorf("WasmPlugin %s: spec.url %q: want oci://, http(s):// or file://", o.Metadata.Name, wp.GetUrl())
		}
	}
	o.msg = msg
	return o, nil
}

type istioKit struct {
	objects  []*k8sObject
	secret   map[string]any
	patch    map[string]any
	wasm     *extensions.WasmPlugin
	entries  []*networking.ServiceEntry
	rules    []*networking.DestinationRule
	services []*networking.VirtualService
	gateways map[string]*networking.Gateway // by namespace/name
}

func loadIstioKit(t *testing.T) *istioKit {
	t.Helper()
	files, err := filepath.Glob("istio/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in e2e/istio: %v", err)
	}
	k := &istioKit{gateways: map[string]*networking.Gateway{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitYAML(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, js := range docs {
			switch filepath.Base(f) {
			case "secret.yaml":
				json.Unmarshal(js, &k.secret)
				continue
			case "gateway-patch.yaml":
				json.Unmarshal(js, &k.patch)
				continue
			case "mesh-config.yaml":
				continue // a MeshConfig fragment, checked by TestIstioMeshConfigNormalizesPaths
			}
			o, err := parseIstioObject(js)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			o.File = f
			k.objects = append(k.objects, o)
			switch m := o.msg.(type) {
			case *extensions.WasmPlugin:
				k.wasm = m
			case *networking.ServiceEntry:
				k.entries = append(k.entries, m)
			case *networking.DestinationRule:
				k.rules = append(k.rules, m)
			case *networking.VirtualService:
				k.services = append(k.services, m)
			case *networking.Gateway:
				k.gateways[o.Metadata.Namespace+"/"+o.Metadata.Name] = m
			}
		}
	}
	if k.wasm == nil || k.secret == nil || k.patch == nil {
		t.Fatal("the kit needs wasmplugin.yaml, secret.yaml and gateway-patch.yaml")
	}
	return k
}

func TestIstioKitManifestsAreValidIstioObjects(t *testing.T) {
	k := loadIstioKit(t)
	kinds := map[string]int{}
	for _, o := range k.objects {
		kinds[o.Kind]++
	}
	for _, want := range []string{"WasmPlugin", "ServiceEntry", "DestinationRule", "VirtualService", "Gateway"} {
		if kinds[want] == 0 {
			t.Errorf("the kit has no %s", want)
		}
	}
	wp := k.wasm
	if wp.GetPhase() != extensions.PluginPhase_AUTHN {
		t.Errorf("phase %v, want AUTHN", wp.GetPhase())
	}
	if wp.GetFailStrategy() != extensions.FailStrategy_FAIL_CLOSE {
		t.Errorf("failStrategy %v, want FAIL_CLOSE", wp.GetFailStrategy())
	}
	if len(wp.GetMatch()) == 0 || len(wp.GetMatch()[0].GetPorts()) == 0 {
		t.Error("no match ports")
	}
	df, _ := os.ReadFile("istio/Dockerfile")
	if !strings.Contains(string(df), "FROM scratch") || !strings.Contains(string(df), "COPY plugin.wasm") {
		t.Errorf("istio/Dockerfile is not a one-layer image of plugin.wasm:\n%s", df)
	}
}

func TestIstioPluginConfigStartsTheFilterInDefaultHeaderMode(t *testing.T) {
	k := loadIstioKit(t)
	env := map[string]string{}
	for _, e := range k.wasm.GetVmConfig().GetEnv() {
		v := e.GetValue()
		if e.GetValueFrom() == extensions.EnvValueSource_HOST {
			v = "host-provided-secret-0123456789abcdef0123456789" // from the gateway's environment
		}
		env[e.GetName()] = v
	}
	pc, err := k.wasm.GetPluginConfig().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(pc, func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err != nil {
		t.Fatalf("pluginConfig refused by the plugin: %v", err)
	}
	if cfg.PauseOnHeaders {
		t.Error("WasmPlugin cannot set allow_on_headers_stop_iteration: the kit must use the default header mode")
	}
}

// Each callout cluster the plugin names must exist on the gateway: Istio
// builds outbound|<port>||<host> from a ServiceEntry, and the filter speaks
// plain HTTP to it, so a DestinationRule must originate TLS with SNI.
func TestIstioCalloutClustersHaveServiceEntryAndTLSOrigination(t *testing.T) {
	k := loadIstioKit(t)
	pc, _ := k.wasm.GetPluginConfig().MarshalJSON()
	cfg, err := config.Parse(pc, func(string) (string, bool) { return "host-provided-secret-0123456789abcdef0123456789", true })
	if err != nil {
		t.Fatal(err)
	}
	clusters := []string{cfg.Backend.Cluster}
	for _, m := range cfg.Merchants {
		clusters = append(clusters, m.Cluster)
	}
	re := regexp.MustCompile(`^outbound\|(\d+)\|\|([a-z0-9.-]+)$`)
	for _, cl := range clusters {
		t.Run(cl, func(t *testing.T) {
			m := re.FindStringSubmatch(cl)
			if m == nil {
				t.Fatalf("cluster %q is not an Istio outbound|<port>||<host> name", cl)
			}
			port, _ := strconv.Atoi(m[1])
			host := m[2]
			found := false
			for _, se := range k.entries {
				if slices.Contains(se.GetHosts(), host) && slices.ContainsFunc(se.GetPorts(), func(p *networking.ServicePort) bool {
					return int(p.GetNumber()) == port && p.GetProtocol() == "HTTP"
				}) {
					found = true
				}
			}
			if !found {
				t.Errorf("no ServiceEntry declares host %s with HTTP port %d", host, port)
			}
			var tls *networking.ClientTLSSettings
			for _, dr := range k.rules {
				if dr.GetHost() != host {
					continue
				}
				tls = dr.GetTrafficPolicy().GetTls()
				for _, pl := range dr.GetTrafficPolicy().GetPortLevelSettings() {
					if int(pl.GetPort().GetNumber()) == port && pl.GetTls() != nil {
						tls = pl.GetTls()
					}
				}
			}
			switch {
			case tls == nil:
				t.Errorf("no DestinationRule originates TLS for %s:%d", host, port)
			case tls.GetMode() != networking.ClientTLSSettings_SIMPLE:
				t.Errorf("TLS mode %v for %s, want SIMPLE", tls.GetMode(), host)
			case tls.GetSni() != host:
				t.Errorf("SNI %q for %s, want %q", tls.GetSni(), host, host)
			}
		})
	}
}

func TestIstioVirtualServiceRoutesTheTransferPaths(t *testing.T) {
	k := loadIstioKit(t)
	if len(k.services) == 0 {
		t.Fatal("no VirtualService")
	}
	vs := k.services[0]
	for _, g := range vs.GetGateways() {
		if k.gateways[g] == nil {
			t.Errorf("VirtualService names gateway %q, which the kit does not define", g)
		}
	}
	route := func(path string) *networking.HTTPRoute {
		for _, r := range vs.GetHttp() {
			if len(r.GetMatch()) == 0 {
				return r
			}
			for _, m := range r.GetMatch() {
				// Envoy's safe_regex must match the whole path (RE2).
				if rx := m.GetUri().GetRegex(); rx != "" && regexp.MustCompile(`^(?:`+rx+`)$`).MatchString(path) {
					return r
				}
				if p := m.GetUri().GetPrefix(); p != "" && strings.HasPrefix(path, p) {
					return r
				}
			}
		}
		return nil
	}
	for _, tc := range []struct {
		path, want string
	}{
		{"/api/v2/domains/staging.luma.gift/session/transfer", "session-transfer"},
		{"/api/v1/domains/staging.luma.gift/session/transfer", "session-transfer"},
		{"/api/v2/domains/staging.luma.gift/session/transfer/", "session-transfer"},
		{"/api/v2/carts/active", "api"},
		{"/api/v2/domains/a/b/session/transfer", "api"},
	} {
		r := route(tc.path)
		if r == nil || r.GetName() != tc.want {
			t.Errorf("path %s: got route %q, want %q", tc.path, r.GetName(), tc.want)
		}
	}
	tr := route("/api/v2/domains/staging.luma.gift/session/transfer")
	if tr != nil && len(tr.GetRoute()) == 0 {
		t.Error("the transfer route has no destination")
	}
	if d := tr.GetTimeout(); d != nil && d.AsDuration().Milliseconds() < 4000 {
		t.Errorf("transfer route timeout %v is shorter than both callouts' default timeouts", d.AsDuration())
	}
}

// secret.yaml and gateway-patch.yaml are Kubernetes core objects: a
// structural check that the Secret reaches the proxy's environment under the
// name vmConfig.env reads, and that the proxy keeps the filter's stats.
func TestIstioSecretReachesTheGatewayEnvironment(t *testing.T) {
	k := loadIstioKit(t)
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch p := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[p]
			case int:
				l, _ := v.([]any)
				if p >= len(l) {
					return nil
				}
				v = l[p]
			}
		}
		return v
	}
	if get(k.secret, "apiVersion") != "v1" || get(k.secret, "kind") != "Secret" {
		t.Fatalf("secret.yaml is not a v1 Secret: %v", k.secret)
	}
	secretName, _ := get(k.secret, "metadata", "name").(string)
	var hostVars []string
	for _, e := range k.wasm.GetVmConfig().GetEnv() {
		if e.GetValueFrom() == extensions.EnvValueSource_HOST {
			hostVars = append(hostVars, e.GetName())
		}
	}
	if len(hostVars) == 0 {
		t.Fatal("the WasmPlugin reads no secret from the proxy's environment")
	}
	containers, _ := get(k.patch, "spec", "template", "spec", "containers").([]any)
	var env []any
	for _, c := range containers {
		if get(c, "name") == "istio-proxy" {
			env, _ = get(c, "env").([]any)
		}
	}
	for _, name := range hostVars {
		ok := false
		for _, e := range env {
			if get(e, "name") != name {
				continue
			}
			ref := get(e, "valueFrom", "secretKeyRef")
			key, _ := get(ref, "key").(string)
			val, _ := get(k.secret, "stringData", key).(string)
			if get(ref, "name") == secretName && len(val) >= 32 {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: gateway-patch.yaml does not set it on the istio-proxy container from Secret %q (a key of 32 bytes or more)", name, secretName)
		}
	}
	// The proxy config annotation is a ProxyConfig: checked strictly too.
	ann, _ := get(k.patch, "spec", "template", "metadata", "annotations", "proxy.istio.io/config").(string)
	js, err := yaml.YAMLToJSON([]byte(ann))
	if err != nil || ann == "" {
		t.Fatalf("proxy.istio.io/config annotation: %v", err)
	}
	var pcv any
	json.Unmarshal(js, &pcv)
	pcfg := &meshv1alpha1.ProxyConfig{}
	if errs := strictFields("proxy.istio.io/config", pcv, pcfg.ProtoReflect().Descriptor()); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "; "))
	}
	if err := protojson.Unmarshal(js, pcfg); err != nil {
		t.Fatal(err)
	}
	stat := "session_transfer_outcome=.=transferred;.;session_transfer_merchant=.=staging.luma.gift;.;session_transfer.requests"
	if !slices.ContainsFunc(pcfg.GetProxyStatsMatcher().GetInclusionRegexps(), func(rx string) bool {
		return regexp.MustCompile(`^(?:` + rx + `)$`).MatchString(stat)
	}) {
		t.Errorf("proxyStatsMatcher.inclusionRegexps %v keep no session_transfer metric", pcfg.GetProxyStatsMatcher().GetInclusionRegexps())
	}
	for _, tag := range []string{"session_transfer_merchant", "session_transfer_outcome"} {
		if !slices.Contains(pcfg.GetExtraStatTags(), tag) {
			t.Errorf("extraStatTags %v lack %s", pcfg.GetExtraStatTags(), tag)
		}
	}
}

// The checks refuse what protojson alone lets through.
func TestIstioStrictCheckRefusesWhatProtojsonAccepts(t *testing.T) {
	valid := `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: p, namespace: istio-system}
spec:
  url: oci://registry.example.com/p:v1
  sha256: 1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210
  failStrategy: FAIL_CLOSE
  vmConfig:
    env: [{name: S, valueFrom: HOST}]
  pluginConfig: {session_key: {secret_env: S}}
`
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"a valid manifest passes", "", "", ""},
		{"plugin_config in snake_case is refused", "pluginConfig:", "plugin_config:", `spec.plugin_config: proto field name; the manifest must use "pluginConfig"`},
		{"fail_strategy in snake_case is refused", "failStrategy:", "fail_strategy:", `spec.fail_strategy: proto field name; the manifest must use "failStrategy"`},
		{"a nested snake_case name is refused", "valueFrom:", "value_from:", `spec.vmConfig.env[0].value_from: proto field name`},
		{"an unknown field is refused", "failStrategy:", "failStrategyy:", "spec.failStrategyy: unknown field"},
		{"a sha256 that is not hex is refused", "sha256: 1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210", `sha256: "nothex"`, `spec.sha256 "nothex": want 64 lower-case hex characters`},
		{"an upper-case sha256 is refused", "sha256: 1ef0", "sha256: 1EF0", "want 64 lower-case hex characters"},
		{"an unknown enum value is refused", "FAIL_CLOSE", "FAIL_CLOSED", "spec.failStrategy: FAIL_CLOSED is not one of"},
		{"a url without a known scheme is refused", "oci://", "ftp://", "want oci://"},
		{"an unknown top-level field is refused", "kind: WasmPlugin", "kind: WasmPlugin\nstatus: {}", `unknown top-level field "status"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := valid
			if tc.old != "" {
				if !strings.Contains(doc, tc.old) {
					t.Fatalf("test bug: %q not in the manifest", tc.old)
				}
				doc = strings.Replace(doc, tc.old, tc.new, 1)
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseIstioObject(js)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if tc.want != "" && strings.Contains(tc.name, "snake_case") {
				// The point of the strict check: protojson alone takes it.
				var top struct {
					Spec json.RawMessage `json:"spec"`
				}
				json.Unmarshal(js, &top)
				if err := protojson.Unmarshal(top.Spec, &extensions.WasmPlugin{}); err != nil {
					t.Errorf("protojson refuses it too (%v): the strict check is not what catches it", err)
				}
			}
		})
	}
}
