package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// strataBin is the strata binary built by TestMain for this test run.
var strataBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "strata-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if strataBin, err = buildStrata(root, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	code := m.Run()
	if path := os.Getenv(envReport); path != "" {
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path) // relative to the repository, not this package
		}
		if err := figures.write(path); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: write reliability report:", err)
			return 1
		}
	}
	return code
}

// moduleRoot is the folder of the go.mod of the module under test.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside the strata module")
	}
	return filepath.Dir(gomod), nil
}

// buildStrata compiles root's ./cmd/strata into dir.
func buildStrata(root, dir string) (string, error) {
	bin := filepath.Join(dir, "strata")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/strata")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/strata: %w\n%s", err, out)
	}
	return bin, nil
}
