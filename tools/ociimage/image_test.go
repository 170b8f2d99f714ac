package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The images are read back with go-containerregistry, the library Istio's and Envoy Gateway's
// fetchers are built on, and checked against the rules those fetchers apply.

// testModule is the module under test: the built plugin.wasm when PLUGIN_WASM names it (as
// `./build.sh test` does), otherwise a small stand-in with the WebAssembly header.
func testModule(t *testing.T) (path string, wasm []byte) {
	t.Helper()
	if p := os.Getenv("PLUGIN_WASM"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return p, b
	}
	wasm = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("module body "), 4096)...)
	path = filepath.Join(t.TempDir(), "plugin.wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, wasm
}

// buildImages runs the command as build.sh does and returns the output directory, what it
// printed, and the sha256 it printed for each layout directory name.
func buildImages(t *testing.T, wasmPath string) (string, string, map[string]string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oci")
	var stdout bytes.Buffer
	if err := run([]string{"-wasm", wasmPath, "-out", out, "-tag", "v1.2.3"}, &stdout); err != nil {
		t.Fatal(err)
	}
	printed := map[string]string{}
	var current string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if m := regexp.MustCompile(`^` + regexp.QuoteMeta(out) + `/(\w+): `).FindStringSubmatch(line); m != nil {
			current = m[1]
		}
		if m := regexp.MustCompile(`^  sha256: "([0-9a-f]{64})"$`).FindStringSubmatch(line); m != nil {
			printed[current] = m[1]
		}
	}
	if len(printed) != 2 {
		t.Fatalf("want a sha256 line for each of the two images, got %v in:\n%s", printed, stdout.String())
	}
	return out, stdout.String(), printed
}

// readLayout opens an OCI image layout and returns its one image, checking its tag.
func readLayout(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s: %d manifests in index.json, want 1", dir, len(im.Manifests))
	}
	if tag := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; tag != "v1.2.3" {
		t.Errorf("%s: tag %q, want v1.2.3", dir, tag)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarFiles returns the regular files of a tar+gzip layer by name, and every entry's name.
func tarFiles(t *testing.T, l v1.Layer) (map[string][]byte, []string) {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatalf("the layer is not gzip (the fetchers gunzip it): %v", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
	return files, names
}

func checkDockerImage(t *testing.T, img v1.Image, wasm []byte) {
	t.Helper()
	// Digests, sizes, diff_ids and the config, as a registry and Docker check them.
	if err := validate.Image(img); err != nil {
		t.Fatalf("not a valid image: %v", err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Config.MediaType != types.DockerConfigJSON {
		t.Errorf("manifest %s with config %s, want %s with %s", m.MediaType, m.Config.MediaType, types.DockerManifestSchema2, types.DockerConfigJSON)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.DockerLayer {
		t.Errorf("layer media type %s, want %s", mt, types.DockerLayer)
	}
	files, names := tarFiles(t, layers[0])
	if len(names) != 1 || names[0] != "plugin.wasm" {
		t.Fatalf("the layer holds %q, want exactly [plugin.wasm]", names)
	}
	if !bytes.Equal(files["plugin.wasm"], wasm) {
		t.Error("the layer's plugin.wasm differs from the module")
	}
}

func checkWasmArtifact(t *testing.T, img v1.Image, wasm []byte) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", m.MediaType, types.OCIManifestSchema1)
	}
	if m.Config.MediaType != mediaWasmConfig {
		t.Errorf("config media type %s, want %s", m.Config.MediaType, mediaWasmConfig)
	}
	raw, err := img.RawConfigFile()
	if err != nil || digestOf(raw) != m.Config.Digest.String() {
		t.Errorf("config blob does not match its descriptor (%v)", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	// Both fetchers refuse an "oci" variant image unless it has exactly two layers.
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2 (runtime config, module)", len(layers))
	}
	var modules int
	for i, l := range layers {
		mt, _ := l.MediaType()
		rc, err := l.Compressed() // as the fetchers read it: the raw module, not gzip
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := l.Digest(); d.String() != digestOf(b) || m.Layers[i].Size != int64(len(b)) {
			t.Errorf("layer %d does not match its descriptor", i)
		}
		switch mt {
		case mediaWasmContent:
			modules++
			if !bytes.Equal(b, wasm) {
				t.Error("the module layer differs from the module")
			}
		case mediaWasmConfig:
			if !bytes.Equal(b, raw) {
				t.Error("the config layer differs from the config")
			}
		default:
			t.Errorf("layer %d has media type %s", i, mt)
		}
	}
	if modules != 1 {
		t.Errorf("%d module layers, want 1", modules)
	}
}

func TestImagesReadBackAsIstioAndEnvoyGatewayReadThem(t *testing.T) {
	wasmPath, wasm := testModule(t)
	out, _, printed := buildImages(t, wasmPath)
	checks := map[string]func(*testing.T, v1.Image, []byte){"docker": checkDockerImage, "wasm": checkWasmArtifact}
	for dir, check := range checks {
		t.Run(dir, func(t *testing.T) {
			img := readLayout(t, filepath.Join(out, dir))
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if d.Hex != printed[dir] {
				t.Errorf("printed sha256 %s, manifest digest %s", printed[dir], d)
			}
			check(t, img, wasm)
		})
	}
}

// Pushed to a registry and pulled as the fetchers pull (remote.Get, then the image), each image
// keeps the printed digest, which is what the kits' sha256 is compared with.
func TestPushedImagesKeepThePrintedDigest(t *testing.T) {
	wasmPath, wasm := testModule(t)
	out, _, printed := buildImages(t, wasmPath)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	checks := map[string]func(*testing.T, v1.Image, []byte){"docker": checkDockerImage, "wasm": checkWasmArtifact}
	for dir, check := range checks {
		t.Run(dir, func(t *testing.T) {
			ref, err := name.ParseReference(host+"/firmly/session-transfer-"+dir+":v1.2.3", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			// What `crane push <layout> <ref>` does with a one-image layout.
			if err := remote.Write(ref, readLayout(t, filepath.Join(out, dir))); err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(ref)
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest.Hex != printed[dir] {
				t.Errorf("the registry reports %s, the tool printed %s", desc.Digest, printed[dir])
			}
			img, err := desc.Image()
			if err != nil {
				t.Fatal(err)
			}
			check(t, img, wasm)
		})
	}
}

// The same module always gives the same digests, so a digest identifies a build.
func TestImagesAreReproducible(t *testing.T) {
	wasmPath, _ := testModule(t)
	_, _, a := buildImages(t, wasmPath)
	_, _, b := buildImages(t, wasmPath)
	for dir := range a {
		if a[dir] != b[dir] {
			t.Errorf("%s: %s then %s", dir, a[dir], b[dir])
		}
	}
}

func TestRefusesWhatIsNotAModuleOrATag(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "plugin.wasm")
	os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644)
	wasmPath, _ := testModule(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-wasm", notWasm, "-out", dir}, "is not a WebAssembly module"},
		{[]string{"-wasm", filepath.Join(dir, "missing.wasm"), "-out", dir}, "reading the module"},
		{[]string{"-wasm", wasmPath, "-out", dir, "-tag", "v1+dirty"}, `tag "v1+dirty" is not a valid OCI tag`},
	} {
		err := run(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
