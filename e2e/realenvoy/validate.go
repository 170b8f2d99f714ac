package realenvoy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Validate runs `envoy --mode validate` on a (rewritten) configuration: Envoy
// parses it, builds every listener, cluster and filter, and loads the Wasm
// module, without binding a port or contacting an upstream.
func Validate(ctx context.Context, bin, dir string, d Doc) (string, error) {
	cfg, err := d.YAML()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "envoy.yaml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--mode", "validate", "-c", path, "--disable-hot-restart", "-l", "warn")
	cmd.SysProcAttr = procAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("realenvoy: envoy --mode validate: %w", err)
	}
	return out.String(), nil
}
