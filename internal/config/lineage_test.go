package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLineageKeysDefaultToNoEventsInNamespaceStrata(t *testing.T) {
	c, err := load(writeConfig(t, minimalYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Lineage{Namespace: "strata"}
	if c.Lineage != want {
		t.Errorf("lineage = %+v, want %+v", c.Lineage, want)
	}
	if c.LineageFilePath() != "" {
		t.Errorf("LineageFilePath() = %q, want empty", c.LineageFilePath())
	}
}

func TestLineageKeysComeFromTheFileAndTheEnvironment(t *testing.T) {
	path := writeConfig(t, minimalYAML+`lineage:
  openlineage_url: http://marquez:5000/api/v1/lineage
  openlineage_file: events/openlineage.jsonl
`)
	c, err := load(path, envMap(map[string]string{"STRATA_LINEAGE_NAMESPACE": "strata-prod"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Lineage{OpenLineageURL: "http://marquez:5000/api/v1/lineage", OpenLineageFile: "events/openlineage.jsonl", Namespace: "strata-prod"}
	if c.Lineage != want {
		t.Errorf("lineage = %+v, want %+v", c.Lineage, want)
	}
	if got, want := c.LineageFilePath(), filepath.Join(filepath.Dir(path), "events", "openlineage.jsonl"); got != want {
		t.Errorf("a relative file is resolved against the config's folder: %q, want %q", got, want)
	}
}

func TestValidateRejectsBadLineageKeys(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Lineage)
		want   string
	}{
		{"a URL must be http or https", func(l *Lineage) { l.OpenLineageURL = "kafka://broker:9092/lineage" },
			`lineage.openlineage_url: has scheme "kafka" (use http:// or https://, e.g. http://marquez:5000/api/v1/lineage)`},
		{"a URL must name a host", func(l *Lineage) { l.OpenLineageURL = "http:///api/v1/lineage" },
			`lineage.openlineage_url: names no host (use http://marquez:5000/api/v1/lineage)`},
		{"a file must not be a folder", func(l *Lineage) { l.OpenLineageFile = "/var/log/strata/" },
			`lineage.openlineage_file: "/var/log/strata/" is not a file path (give a file such as /var/log/strata/openlineage.jsonl)`},
		{"a namespace is a plain name", func(l *Lineage) { l.Namespace = "strata prod" },
			`lineage.namespace: "strata prod" is not a namespace (use 1 to 255 letters, digits and _ . : / -, e.g. strata or strata-prod)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c.Lineage)
			err := c.Validate()
			if want := "config strata.yaml: " + tt.want; err == nil || err.Error() != want {
				t.Errorf("error = %v\nwant    %s", err, want)
			}
		})
	}
}

func TestTheOpenLineagePasswordIsRedacted(t *testing.T) {
	c := validConfig()
	c.Lineage.OpenLineageURL = "https://strata:hunter2@lineage.example.com/api/v1/lineage"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	out := c.String()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "lineage.example.com") {
		t.Errorf("echo shows the password or lost the URL:\n%s", out)
	}
}
