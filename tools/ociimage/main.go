// Command ociimage writes plugin.wasm as OCI image layouts in the two Wasm image formats that
// Istio's WasmPlugin and Envoy Gateway's EnvoyExtensionPolicy pull, without Docker, and prints
// each manifest digest in the form both kits' sha256 fields take. `./build.sh image` runs it.
//
// It is a module of its own because its test reads the images back with go-containerregistry
// (the library both fetchers use), which the main module and plugin.wasm need not carry.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// tagPattern is the OCI distribution specification's tag grammar.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	wasmPath := fs.String("wasm", "plugin.wasm", "the module to package")
	outDir := fs.String("out", "dist/oci", "directory for the two image layouts (docker/ and wasm/)")
	tag := fs.String("tag", "dev", "tag recorded in each layout (org.opencontainers.image.ref.name)")
	repo := fs.String("repo", "registry.example.com/firmly/session-transfer", "repository shown in the push hint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !tagPattern.MatchString(*tag) {
		return fmt.Errorf("tag %q is not a valid OCI tag", *tag)
	}
	wasm, err := os.ReadFile(*wasmPath)
	if err != nil {
		return fmt.Errorf("reading the module: %w", err)
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return fmt.Errorf("%s is not a WebAssembly module", *wasmPath)
	}
	docker, err := dockerImage(wasm)
	if err != nil {
		return fmt.Errorf("docker image: %w", err)
	}
	artifact, err := wasmArtifact(wasm)
	if err != nil {
		return fmt.Errorf("wasm artifact: %w", err)
	}
	for _, im := range []struct {
		dir, what string
		img       *image
	}{
		{"docker", "Docker image, one tar+gzip layer holding plugin.wasm", docker},
		{"wasm", "OCI Wasm artifact, plugin.wasm as " + mediaWasmContent, artifact},
	} {
		dir := filepath.Join(*outDir, im.dir)
		if err := writeLayout(dir, im.img, *tag); err != nil {
			return fmt.Errorf("writing %s: %w", dir, err)
		}
		fmt.Fprintf(out, "%s: %s (tag %s)\n", dir, im.what, *tag)
		fmt.Fprintf(out, "  manifest digest %s\n", im.img.Digest())
		fmt.Fprintf(out, "  sha256: %q\n", strings.TrimPrefix(im.img.Digest(), "sha256:"))
	}
	fmt.Fprintf(out, `Push one of them unchanged (its digest stays the same), e.g.
  crane push %s %s:%s
then put that image's sha256 line, quoted, into Istio's WasmPlugin spec.sha256 or
Envoy Gateway's EnvoyExtensionPolicy wasm[].code.image.sha256, and its name into the url.
`, filepath.Join(*outDir, "docker"), *repo, *tag)
	return nil
}
