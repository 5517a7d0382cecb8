package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the configuration: Default, then the YAML file at path
// (strictly: an unknown key is an error naming it and its line), then the
// STRATA_... variables that env returns (see the package comment), then
// defaults for keys still unset. It returns the result only if it passes
// Validate and CheckFiles (with os.Stat). An empty path reads no file, so
// the environment alone configures Strata. env may be nil (no overrides);
// pass os.Getenv in production.
//
// Every error about the file's content is a *FieldError (several are
// joined with errors.Join) and matches ErrInvalid.
func Load(path string, env func(string) string) (*Config, error) {
	c, err := load(path, env)
	if err != nil {
		return nil, err
	}
	if err := c.CheckFiles(os.Stat); err != nil {
		return nil, err
	}
	return c, nil
}

// load is Load without CheckFiles.
func load(path string, env func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		c.File, c.Dir = path, filepath.Dir(path)
		if err := decode(&c, data); err != nil {
			return nil, err
		}
	}
	if env == nil {
		env = func(string) string { return "" }
	}
	if err := c.applyEnv(env); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// decode reads one YAML document strictly into c.
func decode(c *Config, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil // an empty file configures nothing
	}
	if err != nil {
		return c.yamlError(err)
	}
	var extra yaml.Node
	if dec.Decode(&extra) != io.EOF {
		return c.fieldError("", "holds more than one YAML document (remove the extra ---)")
	}
	return nil
}

// unknownField matches yaml.v3's message for a key that KnownFields rejects.
var unknownField = regexp.MustCompile(`^line (\d+): field (.+) not found in type config\.(\w+)$`)

// yamlError turns yaml.v3's messages into FieldErrors that name the line.
func (c *Config) yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return c.fieldError("", "is not valid YAML: "+msg)
	}
	var errs []error
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			e = fmt.Sprintf("line %s: unknown key %q in %s (check the spelling; docs/CONFIG.md lists every key)", m[1], m[2], sectionOf(m[3]))
		}
		line, msg, ok := strings.Cut(e, ": ")
		if !ok {
			line, msg = "", e
		}
		errs = append(errs, c.fieldError(line, msg))
	}
	return errors.Join(errs...)
}

// sectionOf names the YAML section decoded into the Go type called typ.
func sectionOf(typ string) string {
	switch typ {
	case "Config":
		return "the top level"
	case "Dataset":
		return "datasets[]"
	case "SourceSpec":
		return "datasets[].source"
	case "AnalyticsSpec":
		return "datasets[].analytics"
	case "ArchiveSpec":
		return "datasets[].archive"
	}
	return strings.ToLower(typ)
}
