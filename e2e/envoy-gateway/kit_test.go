// Package envoygateway checks the Envoy Gateway kit in this directory. There is no Kubernetes
// here, so every manifest is decoded strictly (unknown fields refused, as the API server's
// structural schemas prune or refuse them) into Envoy Gateway's and Gateway API's own Go types,
// the patched-in clusters into Envoy's own protos with their validation rules, and the plugin
// configuration through the filter's own parser. It is a module of its own: those types pull in
// Kubernetes, which the main module and plugin.wasm must not carry.
package envoygateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/firmly/session-transfer-filter/internal/config"
	"github.com/firmly/session-transfer-filter/internal/request"
)

// kinds maps apiVersion/kind to a new typed object, for every kind the kit uses.
var kinds = map[string]func() any{
	"gateway.networking.k8s.io/v1/GatewayClass":          func() any { return &gwapiv1.GatewayClass{} },
	"gateway.networking.k8s.io/v1/Gateway":               func() any { return &gwapiv1.Gateway{} },
	"gateway.networking.k8s.io/v1/HTTPRoute":             func() any { return &gwapiv1.HTTPRoute{} },
	"gateway.envoyproxy.io/v1alpha1/EnvoyProxy":          func() any { return &egv1a1.EnvoyProxy{} },
	"gateway.envoyproxy.io/v1alpha1/ClientTrafficPolicy": func() any { return &egv1a1.ClientTrafficPolicy{} },
	"gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy": func() any {
		return &egv1a1.EnvoyExtensionPolicy{}
	},
	"gateway.envoyproxy.io/v1alpha1/EnvoyPatchPolicy": func() any { return &egv1a1.EnvoyPatchPolicy{} },
	"v1/Secret": func() any { return &corev1.Secret{} },
}

// kit is the decoded kit.
type kit struct {
	classes   []*gwapiv1.GatewayClass
	gateways  []*gwapiv1.Gateway
	routes    []*gwapiv1.HTTPRoute
	proxies   []*egv1a1.EnvoyProxy
	clients   []*egv1a1.ClientTrafficPolicy
	policies  []*egv1a1.EnvoyExtensionPolicy
	patches   []*egv1a1.EnvoyPatchPolicy
	secrets   []*corev1.Secret
	egConfig  *egv1a1.EnvoyGateway
	clusters  map[string]*clusterv3.Cluster // added by EnvoyPatchPolicy, by name
	pluginCfg []byte                        // the EnvoyExtensionPolicy's wasm config, as JSON
}

// readKit reads the kit's files from dir.
func readKit(dir string) (map[string][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(n)] = b
	}
	return files, nil
}

// strict decodes JSON into v as the Kubernetes API server does: field names case-sensitive,
// unknown and duplicate fields refused. (encoding/json's DisallowUnknownFields alone still
// matches names case-insensitively, so it would take "hostkeys" for "hostKeys".)
func strict(js []byte, v any) error {
	strictErrs, err := kjson.UnmarshalStrict(js, v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// splitYAML returns the JSON of each non-empty document of a multi-document YAML file.
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

// decodeKit decodes every file strictly into its kind's type.
func decodeKit(files map[string][]byte) (*kit, error) {
	k := &kit{clusters: map[string]*clusterv3.Cluster{}}
	var errs []string
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "envoy-gateway-values.yaml" {
			if err := k.decodeValues(files[name]); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			}
			continue
		}
		docs, err := splitYAML(files[name])
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for _, js := range docs {
			if err := k.decode(js); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return k, nil
}

func (k *kit) decodeValues(data []byte) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	var values struct {
		Config struct {
			EnvoyGateway json.RawMessage `json:"envoyGateway"`
		} `json:"config"`
	}
	if err := strict(js, &values); err != nil {
		return err
	}
	k.egConfig = &egv1a1.EnvoyGateway{}
	if err := strict(values.Config.EnvoyGateway, k.egConfig); err != nil {
		return fmt.Errorf("config.envoyGateway: %w", err)
	}
	if k.egConfig.APIVersion != "gateway.envoyproxy.io/v1alpha1" || k.egConfig.Kind != "EnvoyGateway" {
		return fmt.Errorf("config.envoyGateway is %s %s, want gateway.envoyproxy.io/v1alpha1 EnvoyGateway", k.egConfig.APIVersion, k.egConfig.Kind)
	}
	return nil
}

func (k *kit) decode(js []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return err
	}
	newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return fmt.Errorf("%s %s: not a kind this kit uses (or a wrong apiVersion)", head.APIVersion, head.Kind)
	}
	if head.Metadata.Name == "" || (head.Metadata.Namespace == "" && head.Kind != "GatewayClass") {
		return fmt.Errorf("%s %q: metadata.name and metadata.namespace are required", head.Kind, head.Metadata.Name)
	}
	obj := newObj()
	if err := strict(js, obj); err != nil {
		return fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, err)
	}
	switch o := obj.(type) {
	case *gwapiv1.GatewayClass:
		k.classes = append(k.classes, o)
	case *gwapiv1.Gateway:
		k.gateways = append(k.gateways, o)
	case *gwapiv1.HTTPRoute:
		k.routes = append(k.routes, o)
	case *egv1a1.EnvoyProxy:
		k.proxies = append(k.proxies, o)
	case *egv1a1.ClientTrafficPolicy:
		k.clients = append(k.clients, o)
	case *egv1a1.EnvoyExtensionPolicy:
		k.policies = append(k.policies, o)
		for _, w := range o.Spec.Wasm {
			if w.Config != nil {
				k.pluginCfg = w.Config.Raw
			}
		}
	case *egv1a1.EnvoyPatchPolicy:
		k.patches = append(k.patches, o)
		for i, p := range o.Spec.JSONPatches {
			if err := k.decodePatch(p); err != nil {
				return fmt.Errorf("EnvoyPatchPolicy %s: jsonPatches[%d] %s: %w", o.Name, i, p.Name, err)
			}
		}
	case *corev1.Secret:
		k.secrets = append(k.secrets, o)
	}
	return nil
}

// decodePatch reads a whole-cluster "add" as Envoy Gateway does (a nil path is refused, an empty
// one adds the value as a new resource, parsed with protojson), then applies Envoy's own
// validation rules to the cluster and its TLS context.
func (k *kit) decodePatch(p egv1a1.EnvoyJSONPatchConfig) error {
	if p.Type != egv1a1.ClusterEnvoyResourceType || p.Operation.Op != "add" {
		return fmt.Errorf("the kit only adds clusters")
	}
	if p.Operation.Path == nil || *p.Operation.Path != "" || p.Operation.Value == nil {
		return fmt.Errorf(`adding a whole cluster needs path: "" and a value`)
	}
	c := &clusterv3.Cluster{}
	if err := protojson.Unmarshal(p.Operation.Value.Raw, c); err != nil {
		return fmt.Errorf("not an Envoy Cluster: %w", err)
	}
	if err := c.ValidateAll(); err != nil {
		return err
	}
	if c.GetName() != p.Name {
		return fmt.Errorf("the patch is named %q but adds cluster %q", p.Name, c.GetName())
	}
	if ts := c.GetTransportSocket(); ts != nil {
		tc := &tlsv3.UpstreamTlsContext{}
		if err := ts.GetTypedConfig().UnmarshalTo(tc); err != nil {
			return fmt.Errorf("transport socket: %w", err)
		}
		if err := tc.ValidateAll(); err != nil {
			return err
		}
	}
	if _, dup := k.clusters[c.GetName()]; dup {
		return fmt.Errorf("cluster %q added twice", c.GetName())
	}
	k.clusters[c.GetName()] = c
	return nil
}

// parsePlugin parses the plugin configuration with the filter's own parser, with every
// env.hostKeys variable set as the proxy's environment would.
func (k *kit) parsePlugin() (*config.Config, error) {
	if k.pluginCfg == nil {
		return nil, fmt.Errorf("no EnvoyExtensionPolicy carries a wasm config")
	}
	env := map[string]string{}
	for _, p := range k.policies {
		for _, w := range p.Spec.Wasm {
			if w.Env != nil {
				for _, key := range w.Env.HostKeys {
					env[key] = "proxy-environment-secret-0123456789abcdef"
				}
			}
		}
	}
	return config.Parse(k.pluginCfg, func(name string) (string, bool) { v, ok := env[name]; return v, ok })
}

// checkKit is every rule the kit must keep, beyond the strict decoding: one error per broken rule.
func checkKit(files map[string][]byte) []error {
	k, err := decodeKit(files)
	if err != nil {
		return []error{err}
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(k.classes) != 1 || len(k.gateways) != 1 || len(k.routes) != 1 || len(k.proxies) != 1 ||
		len(k.clients) != 1 || len(k.policies) != 1 || len(k.patches) != 1 || len(k.secrets) != 1 || k.egConfig == nil {
		return []error{fmt.Errorf("the kit needs one each of GatewayClass, Gateway, HTTPRoute, EnvoyProxy, ClientTrafficPolicy, EnvoyExtensionPolicy, EnvoyPatchPolicy, Secret and the Helm values")}
	}
	class, gw, route, proxy, ctp, eep, patch, secret := k.classes[0], k.gateways[0], k.routes[0], k.proxies[0], k.clients[0], k.policies[0], k.patches[0], k.secrets[0]

	// Gateway API wiring: the class is Envoy Gateway's, the route hangs off the Gateway.
	if class.Spec.ControllerName != "gateway.envoyproxy.io/gatewayclass-controller" {
		fail("GatewayClass %s: controllerName %q is not Envoy Gateway's", class.Name, class.Spec.ControllerName)
	}
	if string(gw.Spec.GatewayClassName) != class.Name {
		fail("Gateway %s: gatewayClassName %q, the kit's class is %q", gw.Name, gw.Spec.GatewayClassName, class.Name)
	}
	attached := false
	for _, pr := range route.Spec.ParentRefs {
		if string(pr.Name) == gw.Name && (pr.Namespace == nil || string(*pr.Namespace) == gw.Namespace) {
			attached = route.Namespace == gw.Namespace || pr.Namespace != nil
		}
	}
	if !attached {
		fail("HTTPRoute %s: no parentRef names Gateway %s/%s", route.Name, gw.Namespace, gw.Name)
	}
	if ip := gw.Spec.Infrastructure; ip == nil || ip.ParametersRef == nil || ip.ParametersRef.Kind != "EnvoyProxy" ||
		ip.ParametersRef.Name != proxy.Name || proxy.Namespace != gw.Namespace {
		fail("Gateway %s: infrastructure.parametersRef must name EnvoyProxy %s in its namespace", gw.Name, proxy.Name)
	}
	targets := func(refs []gwapiv1.LocalPolicyTargetReferenceWithSectionName, kind, name string) bool {
		return slices.ContainsFunc(refs, func(r gwapiv1.LocalPolicyTargetReferenceWithSectionName) bool {
			return r.Group == gwapiv1.GroupName && string(r.Kind) == kind && string(r.Name) == name
		})
	}

	// The filter: on the route, from a pinned image, failing closed, in the default header mode.
	if !targets(eep.Spec.TargetRefs, "HTTPRoute", route.Name) || eep.Namespace != route.Namespace {
		fail("EnvoyExtensionPolicy %s: does not target HTTPRoute %s", eep.Name, route.Name)
	}
	if len(eep.Spec.Wasm) != 1 {
		fail("EnvoyExtensionPolicy %s: %d wasm extensions, want 1", eep.Name, len(eep.Spec.Wasm))
	} else {
		w := eep.Spec.Wasm[0]
		switch {
		case w.Code.Type != egv1a1.ImageWasmCodeSourceType || w.Code.Image == nil:
			fail("wasm code: type %q, want Image with image set", w.Code.Type)
		case w.Code.Image.SHA256 == nil || !regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(*w.Code.Image.SHA256):
			fail("wasm code.image.sha256: want the 64 lower-case hex characters of the manifest digest")
		case w.Code.Image.URL == "":
			fail("wasm code.image.url is empty")
		}
		if w.FailOpen == nil || *w.FailOpen {
			fail("wasm failOpen must be false: an authenticating filter fails closed")
		}
	}
	cfg, err := k.parsePlugin()
	if err != nil {
		fail("the plugin configuration is refused by the filter: %v", err)
		return errs
	}
	if cfg.PauseOnHeaders {
		fail("stream.pause_on_headers: Envoy Gateway cannot set allow_on_headers_stop_iteration")
	}

	// Every cluster the filter calls is added by the patch, on the Gateway the route uses, with
	// TLS to the authority the filter sends, circuit breakers and outlier detection.
	if patch.Spec.TargetRef.Kind != "Gateway" || string(patch.Spec.TargetRef.Name) != gw.Name || patch.Namespace != gw.Namespace {
		fail("EnvoyPatchPolicy %s: must target Gateway %s", patch.Name, gw.Name)
	}
	if !k.egConfig.ExtensionAPIs.EnableEnvoyPatchPolicy {
		fail("envoy-gateway-values.yaml: extensionApis.enableEnvoyPatchPolicy must be true, or the clusters are never added")
	}
	type callout struct{ what, cluster, authority string }
	callouts := []callout{{"backend", cfg.Backend.Cluster, cfg.Backend.Authority}}
	for d, m := range cfg.Merchants {
		callouts = append(callouts, callout{"merchant " + d, m.Cluster, m.Authority})
	}
	if rj := cfg.Auth.RemoteJWKS; rj != nil {
		callouts = append(callouts, callout{"auth.remote_jwks", rj.Cluster, rj.Authority})
	}
	for _, co := range callouts {
		c := k.clusters[co.cluster]
		if c == nil {
			fail("%s: cluster %q: no EnvoyPatchPolicy adds it", co.what, co.cluster)
			continue
		}
		tc := &tlsv3.UpstreamTlsContext{}
		if c.GetTransportSocket() == nil || c.GetTransportSocket().GetTypedConfig().UnmarshalTo(tc) != nil {
			fail("cluster %q: no upstream TLS", co.cluster)
			continue
		}
		vc := tc.GetCommonTlsContext().GetValidationContext()
		if tc.GetSni() != co.authority || vc.GetTrustedCa().GetFilename() == "" ||
			!slices.ContainsFunc(vc.GetMatchTypedSubjectAltNames(), func(m *tlsv3.SubjectAltNameMatcher) bool {
				return m.GetMatcher().GetExact() == co.authority
			}) {
			fail("cluster %q: TLS must send SNI %q and check the server certificate (trusted CA, DNS name %q)", co.cluster, co.authority, co.authority)
		}
		if len(c.GetCircuitBreakers().GetThresholds()) == 0 || c.GetOutlierDetection() == nil {
			fail("cluster %q: needs circuit breakers and outlier detection", co.cluster)
		}
	}

	// The session-key secret reaches the VM: Secret -> envoy container env -> env.hostKeys.
	var env []corev1.EnvVar
	if kp := proxy.Spec.Provider; kp != nil && kp.Kubernetes != nil && kp.Kubernetes.EnvoyDeployment != nil && kp.Kubernetes.EnvoyDeployment.Container != nil {
		env = kp.Kubernetes.EnvoyDeployment.Container.Env
	}
	for _, w := range eep.Spec.Wasm {
		if w.Env == nil {
			continue
		}
		for _, key := range w.Env.HostKeys {
			i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == key })
			if i < 0 || env[i].ValueFrom == nil || env[i].ValueFrom.SecretKeyRef == nil {
				fail("env.hostKeys %s: EnvoyProxy %s does not set it on the envoy container from a Secret", key, proxy.Name)
				continue
			}
			ref := env[i].ValueFrom.SecretKeyRef
			if ref.Name != secret.Name || len(secret.StringData[ref.Key]) < 32 {
				fail("env.hostKeys %s: comes from Secret %s key %s, which secret.yaml does not define (32 bytes or more)", key, ref.Name, ref.Key)
			}
		}
	}
	if secret.Namespace != "envoy-gateway-system" {
		fail("Secret %s: must sit where the proxy pods run (envoy-gateway-system), not %s", secret.Name, secret.Namespace)
	}

	// The listener's path and header handling.
	if !targets(ctp.Spec.TargetRefs, "Gateway", gw.Name) {
		fail("ClientTrafficPolicy %s: does not target Gateway %s", ctp.Name, gw.Name)
	}
	if p := ctp.Spec.Path; p == nil || p.EscapedSlashesAction == nil || *p.EscapedSlashesAction == egv1a1.KeepUnchangedAction ||
		(p.DisableMergeSlashes != nil && *p.DisableMergeSlashes) {
		fail("ClientTrafficPolicy %s: must merge slashes and not keep escaped slashes unchanged", ctp.Name)
	}
	if h := ctp.Spec.Headers; h == nil || h.WithUnderscoresAction == nil || *h.WithUnderscoresAction == egv1a1.WithUnderscoresActionAllow {
		fail("ClientTrafficPolicy %s: headers with underscores must be dropped or refused", ctp.Name)
	}
	return errs
}

func TestKitIsValidForEnvoyGatewayAndStartsTheFilter(t *testing.T) {
	files, err := readKit(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkKit(files) {
		t.Error(err)
	}
}

// Each mutation is a mistake an operator could make; the check must refuse every one.
func TestKitCheckRefusesMistakes(t *testing.T) {
	files, err := readKit(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"a misspelt field", "envoyextensionpolicy.yaml", "hostKeys:", "hostkeys:", `unknown field "spec.wasm[0].env.hostkeys"`},
		{"a field in the wrong case", "envoyproxy.yaml", "envoyDeployment:", "EnvoyDeployment:", `unknown field "spec.provider.kubernetes.EnvoyDeployment"`},
		{"a misspelt Gateway API field", "httproute.yaml", "backendRefs:", "backendRef:", `unknown field "spec.rules[0].backendRef"`},
		{"a misspelt field in a patched cluster", "calloutclusters.yaml", "consecutive_5xx:", "consecutive_5xxx:", `unknown field "consecutive_5xxx"`},
		{"a wrong kind", "envoyextensionpolicy.yaml", "kind: EnvoyExtensionPolicy", "kind: EnvoyExtensionPolicies", "not a kind this kit uses"},
		{"a wrong apiVersion", "httproute.yaml", "apiVersion: gateway.networking.k8s.io/v1\n", "apiVersion: gateway.networking.k8s.io/v1alpha2\n", "not a kind this kit uses"},
		{"a missing cluster", "envoyextensionpolicy.yaml", "cluster: session-transfer/session-backend", "cluster: session-transfer/sessions", `cluster "session-transfer/sessions": no EnvoyPatchPolicy adds it`},
		{"a cluster patch without path", "calloutclusters.yaml", "      path: \"\"\n", "", `needs path: "" and a value`},
		{"a cluster Envoy refuses", "calloutclusters.yaml", "port_value: 443", "port_value: 70000", "PortValue: value must be less than or equal to 65535"},
		{"TLS to another name", "calloutclusters.yaml", "sni: staging.luma.gift", "sni: luma.gift", `TLS must send SNI "staging.luma.gift"`},
		{"a plugin configuration the filter refuses", "envoyextensionpolicy.yaml", "leeway_seconds: 30", "leeway_seconds: 3000", "auth.leeway_seconds"},
		{"an unpinned image", "envoyextensionpolicy.yaml", `sha256: "0000000000000000000000000000000000000000000000000000000000000000"`, `sha256: "sha256:0000"`, "code.image.sha256"},
		{"failing open", "envoyextensionpolicy.yaml", "failOpen: false", "failOpen: true", "failOpen must be false"},
		{"the policy on another route", "envoyextensionpolicy.yaml", "name: firmly-api", "name: other-api", "does not target HTTPRoute firmly-api"},
		{"the secret not in the proxy's environment", "envoyproxy.yaml", "name: SESSION_KEY_SECRET", "name: SESSION_SECRET", "env.hostKeys SESSION_KEY_SECRET: EnvoyProxy"},
		{"EnvoyPatchPolicy left disabled", "envoy-gateway-values.yaml", "enableEnvoyPatchPolicy: true", "enableEnvoyPatchPolicy: false", "enableEnvoyPatchPolicy must be true"},
		{"underscored headers allowed", "clienttrafficpolicy.yaml", "withUnderscoresAction: DropHeader", "withUnderscoresAction: Allow", "headers with underscores"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mutated := map[string][]byte{}
			for n, b := range files {
				mutated[n] = b
			}
			if !bytes.Contains(files[tc.file], []byte(tc.old)) {
				t.Fatalf("test bug: %q not in %s", tc.old, tc.file)
			}
			mutated[tc.file] = bytes.Replace(files[tc.file], []byte(tc.old), []byte(tc.new), 1)
			errs := checkKit(mutated)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tc.want) }) {
				t.Errorf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}
}

// The route's transfer rule selects exactly the paths the filter treats as transfers (after the
// listener's normalisation); the filter sees the other rule's requests too, so a path only one of
// them matches is never a bypass, but they agree.
func TestTransferRuleMatchesWhatTheFilterMatches(t *testing.T) {
	files, err := readKit(".")
	if err != nil {
		t.Fatal(err)
	}
	k, err := decodeKit(files)
	if err != nil {
		t.Fatal(err)
	}
	var rx *regexp.Regexp
	for _, r := range k.routes[0].Spec.Rules {
		for _, m := range r.Matches {
			if m.Path != nil && m.Path.Type != nil && *m.Path.Type == gwapiv1.PathMatchRegularExpression {
				rx = regexp.MustCompile(`^(?:` + *m.Path.Value + `)$`) // Envoy's safe_regex matches the whole path
			}
		}
	}
	if rx == nil {
		t.Fatal("no RegularExpression rule in the HTTPRoute")
	}
	for _, path := range []string{
		"/api/v2/domains/staging.luma.gift/session/transfer",
		"/api/v1/domains/staging.luma.gift/session/transfer",
		"/api/v2/domains/staging.luma.gift/session/transfer/",
		"/api/v2/domains/www.Staging.Luma.Gift/session/transfer",
		"/api/v2/domains/staging%2eluma.gift/session/transfer",
		"/api/v3/domains/staging.luma.gift/session/transfer",
		"/API/v2/domains/staging.luma.gift/session/transfer",
		"/api/v2/domains/staging.luma.gift/session/transfer//",
		"/api/v2/domains/a/b/session/transfer",
		"/api/v2/domains/staging.luma.gift/session/transferx",
		"/api/v2/carts/active",
		"/",
	} {
		_, filter := request.MatchRoute(path)
		if route := rx.MatchString(path); route != filter {
			t.Errorf("%s: the transfer rule matches: %v, the filter: %v", path, route, filter)
		}
	}
}
