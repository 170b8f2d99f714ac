package envoyhost

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// One compilation cache for the process: tests compile the same module many
// times, and wazero then compiles it once.
var compilationCache = wazero.NewCompilationCache()

// Module is a compiled plugin, checked against Envoy's host surface, ready to
// start VMs from.
type Module struct {
	envoy    EnvoyVersion
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	abi      string
}

// Compile compiles wasm and checks it the way Envoy would on load: every
// import must be an ABI 0.2.1 hostcall or in the WASI subset of the chosen
// Envoy version, and the module must export memory, _initialize,
// proxy_on_memory_allocate and an ABI version marker.
func Compile(ctx context.Context, wasm []byte, envoy EnvoyVersion) (*Module, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(compilationCache))
	m := &Module{envoy: envoy, runtime: rt}
	fail := func(err error) (*Module, error) {
		rt.Close(ctx)
		return nil, err
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(fmt.Errorf("host: compile: %w", err))
	}
	m.compiled = compiled
	if err := checkImports(compiled, envoy); err != nil {
		return fail(err)
	}
	abi, err := checkExports(compiled)
	if err != nil {
		return fail(err)
	}
	m.abi = abi
	if err := instantiateHostModules(ctx, rt, envoy); err != nil {
		return fail(fmt.Errorf("host: host modules: %w", err))
	}
	return m, nil
}

// Close releases the runtime and every VM started from the module.
func (m *Module) Close(ctx context.Context) error { return m.runtime.Close(ctx) }

// ABIVersion is the proxy_abi_version_* export the module carries.
func (m *Module) ABIVersion() string { return m.abi }

// Imports lists the module's imports as "module.name", sorted.
func (m *Module) Imports() []string { return importNames(m.compiled) }

// Exports lists the module's exported function names, sorted.
func (m *Module) Exports() []string {
	var out []string
	for name := range m.compiled.ExportedFunctions() {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func importNames(c wazero.CompiledModule) []string {
	var out []string
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		out = append(out, mod+"."+name)
	}
	for _, mem := range c.ImportedMemories() {
		mod, name, _ := mem.Import()
		out = append(out, mod+"."+name+" (memory)")
	}
	sort.Strings(out)
	return out
}

// AllowedImports lists every import Envoy of the given version satisfies.
func AllowedImports(envoy EnvoyVersion) []string {
	var out []string
	for _, n := range abiHostFunctions {
		out = append(out, "env."+n)
	}
	for _, n := range wasiFunctions(envoy) {
		out = append(out, "wasi_snapshot_preview1."+n)
	}
	sort.Strings(out)
	return out
}

func checkImports(c wazero.CompiledModule, envoy EnvoyVersion) error {
	allowed := AllowedImports(envoy)
	var bad []string
	for _, name := range importNames(c) {
		if _, found := slices.BinarySearch(allowed, name); !found {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("host: %s would refuse the module: missing imports %s", envoy, strings.Join(bad, ", "))
	}
	return nil
}

func checkExports(c wazero.CompiledModule) (string, error) {
	fns := c.ExportedFunctions()
	var missing []string
	if len(c.ExportedMemories()) == 0 {
		missing = append(missing, "memory")
	}
	for _, name := range []string{"_initialize", "proxy_on_memory_allocate", "proxy_on_context_create"} {
		if _, ok := fns[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("host: module does not export %s", strings.Join(missing, ", "))
	}
	for _, v := range []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0", "proxy_abi_version_0_1_0"} {
		if _, ok := fns[v]; ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("host: Missing or unknown Proxy-Wasm ABI version")
}

// vmContextKey carries the VM a hostcall belongs to.
type vmContextKey struct{}

func vmFrom(ctx context.Context) *VM { return ctx.Value(vmContextKey{}).(*VM) }

type hostFunc func(ctx context.Context, vm *VM, mem api.Memory, stack []uint64)

func define(b wazero.HostModuleBuilder, name string, params, results []api.ValueType, fn hostFunc) {
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		vm := vmFrom(ctx)
		if vm.acct != nil {
			vm.acct.hostEnter(name)
			defer vm.acct.hostExit()
		}
		fn(ctx, vm, mod.Memory(), stack)
	}), params, results).Export(name)
}

func instantiateHostModules(ctx context.Context, rt wazero.Runtime, envoy EnvoyVersion) error {
	env := rt.NewHostModuleBuilder("env")
	defineProxyABI(env)
	if _, err := env.Instantiate(ctx); err != nil {
		return err
	}
	wasi := rt.NewHostModuleBuilder("wasi_snapshot_preview1")
	defineWASI(wasi, envoy)
	_, err := wasi.Instantiate(ctx)
	return err
}
