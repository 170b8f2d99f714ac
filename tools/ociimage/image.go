package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Media types of the two Wasm image formats that Istio's and Envoy Gateway's image fetchers accept
// (both share the same fetcher code: pkg/wasm/imagefetcher.go and internal/wasm/imagefetcher.go).
const (
	// Docker format ("compat" variant): a Docker v2 manifest whose last layer is a tar+gzip
	// holding plugin.wasm, the image `docker build` makes from e2e/istio/Dockerfile.
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mediaDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"

	// OCI Wasm artifact ("oci" variant). The fetchers insist on exactly two layers, one of them the
	// raw module, so the runtime config travels both as the manifest's config and as a layer, as
	// the specification's reference tool (wasme) lays it out.
	mediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mediaWasmConfig  = "application/vnd.module.wasm.config.v1+json"
	mediaWasmContent = "application/vnd.module.wasm.content.layer.v1+wasm"

	annotationTitle   = "org.opencontainers.image.title"
	annotationRefName = "org.opencontainers.image.ref.name"
)

// wasmRuntimeConfig is the artifact's config: the runtime and ABI the module is built for.
var wasmRuntimeConfig = []byte(`{"type":"envoy_proxy","abiVersions":["proxy_abi_version_0_2_1"],"config":{}}`)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// image is one image ready to be written: its blobs by digest and its manifest.
type image struct {
	blobs    map[string][]byte
	manifest []byte
	media    string
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (im *image) add(media string, b []byte, annotations map[string]string) descriptor {
	d := digestOf(b)
	im.blobs[d] = b
	return descriptor{MediaType: media, Digest: d, Size: int64(len(b)), Annotations: annotations}
}

// Digest is the manifest's digest: what a registry reports after a push and what the kits pin.
func (im *image) Digest() string { return digestOf(im.manifest) }

// pluginTar is a tar holding only plugin.wasm, with fixed metadata so that the same module
// always gives the same layer (and so the same digests).
func pluginTar(wasm []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "plugin.wasm",
		Mode:     0o644,
		Size:     int64(len(wasm)),
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("tar header: %w", err)
	}
	if _, err := tw.Write(wasm); err != nil {
		return nil, fmt.Errorf("tar body: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

// dockerImage is the Docker-format image: one tar+gzip layer holding plugin.wasm.
func dockerImage(wasm []byte) (*image, error) {
	tarball, err := pluginTar(wasm)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression) // header without name or time
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarball); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "wasm",
		"os":           "wasip1",
		"config":       map[string]any{},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digestOf(tarball)}},
		"history":      []map[string]string{{"created_by": "COPY plugin.wasm /plugin.wasm"}},
	})
	if err != nil {
		return nil, err
	}
	im := &image{blobs: map[string][]byte{}, media: mediaDockerManifest}
	m := manifest{
		SchemaVersion: 2,
		MediaType:     mediaDockerManifest,
		Config:        im.add(mediaDockerConfig, config, nil),
		Layers:        []descriptor{im.add(mediaDockerLayer, gz.Bytes(), nil)},
	}
	if im.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return im, nil
}

// wasmArtifact is the OCI Wasm artifact: the runtime config and the raw module as its two layers.
func wasmArtifact(wasm []byte) (*image, error) {
	im := &image{blobs: map[string][]byte{}, media: mediaOCIManifest}
	m := manifest{
		SchemaVersion: 2,
		MediaType:     mediaOCIManifest,
		Config:        im.add(mediaWasmConfig, wasmRuntimeConfig, nil),
		Layers: []descriptor{
			im.add(mediaWasmConfig, wasmRuntimeConfig, map[string]string{annotationTitle: "runtime-config.json"}),
			im.add(mediaWasmContent, wasm, map[string]string{annotationTitle: "plugin.wasm"}),
		},
	}
	var err error
	if im.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return im, nil
}

// writeLayout writes im as an OCI image layout in dir (replacing what was there), tagged tag,
// so that `crane push dir`, `skopeo copy oci:dir:tag` and `oras cp --from-oci-layout dir:tag`
// can push it unchanged.
func writeLayout(dir string, im *image, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return err
	}
	md := descriptor{MediaType: im.media, Digest: im.Digest(), Size: int64(len(im.manifest)),
		Annotations: map[string]string{annotationRefName: tag}}
	blobs := map[string][]byte{md.Digest: im.manifest}
	for d, b := range im.blobs {
		blobs[d] = b
	}
	for d, b := range blobs {
		if err := os.WriteFile(filepath.Join(blobDir, d[len("sha256:"):]), b, 0o644); err != nil {
			return err
		}
	}
	idx, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaOCIIndex, Manifests: []descriptor{md}})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}
