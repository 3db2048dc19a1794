package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sbom is the shape cyclonedx-gomod mod writes, cut down: the top
// component named by its git pseudo-version (or by nothing, in a tree
// without .git), with the generator's platform in every purl.
func sbom(v string) string {
	at := ""
	if v != "" {
		at = "@" + v
	}
	top := `"bom-ref": "pkg:golang/github.com/chaffhq/chaff` + at + `?type=module",
      "type": "application",
      "name": "github.com/chaffhq/chaff",`
	if v != "" {
		top += `
      "version": "` + v + `",`
	}
	return `{
  "bomFormat": "CycloneDX",
  "specVersion": "1.6",
  "version": 1,
  "metadata": {
    "component": {
      ` + top + `
      "purl": "pkg:golang/github.com/chaffhq/chaff` + at + `?goarch=amd64\u0026goos=linux\u0026type=module"
    }
  },
  "components": [
    {
      "bom-ref": "pkg:golang/filippo.io/edwards25519@v1.2.0?type=module",
      "name": "filippo.io/edwards25519",
      "version": "v1.2.0",
      "purl": "pkg:golang/filippo.io/edwards25519@v1.2.0?goarch=amd64\u0026goos=linux\u0026type=module"
    }
  ],
  "dependencies": [
    {
      "ref": "pkg:golang/github.com/chaffhq/chaff` + at + `?type=module",
      "dependsOn": ["pkg:golang/filippo.io/edwards25519@v1.2.0?type=module"]
    },
    {"ref": "pkg:golang/filippo.io/edwards25519@v1.2.0?type=module"}
  ]
}
`
}

type doc struct {
	Metadata struct {
		Component struct {
			BOMRef  string `json:"bom-ref"`
			Version string
			Purl    string
		}
	}
	Components []struct {
		BOMRef string `json:"bom-ref"`
		Purl   string
	}
	Dependencies []struct {
		Ref       string
		DependsOn []string
	}
}

func TestSetVersion(t *testing.T) {
	const want = "pkg:golang/github.com/chaffhq/chaff@v1.4.0?type=module"
	for _, from := range []string{"v0.0.0-20261202021331-2caa6347c787", ""} {
		out, err := setVersion([]byte(sbom(from)), "v1.4.0")
		if err != nil {
			t.Fatalf("from %q: %v", from, err)
		}
		var d doc
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatal(err)
		}
		c := d.Metadata.Component
		if c.Version != "v1.4.0" || c.Purl != want || c.BOMRef != want {
			t.Errorf("from %q: top component %+v", from, c)
		}
		if d.Dependencies[0].Ref != want {
			t.Errorf("from %q: the dependency graph names %s", from, d.Dependencies[0].Ref)
		}
		if got := d.Components[0].Purl; got != "pkg:golang/filippo.io/edwards25519@v1.2.0?type=module" {
			t.Errorf("from %q: dependency purl %s", from, got)
		}
		if from != "" && bytes.Contains(out, []byte(from)) {
			t.Errorf("the pseudo-version %s is still in the SBOM:\n%s", from, out)
		}
		if bytes.Contains(out, []byte("goos")) || bytes.Contains(out, []byte("goarch")) {
			t.Errorf("the generator's platform is still in the SBOM:\n%s", out)
		}
		again, err := setVersion(out, "v1.4.0")
		if err != nil || !bytes.Equal(again, out) {
			t.Errorf("from %q: a second pass changed the output (err %v)", from, err)
		}
	}
}

// TestSetVersionIsDeterministic: the same input gives the same bytes.
func TestSetVersionIsDeterministic(t *testing.T) {
	in := []byte(sbom("v0.0.0-20261202021331-2caa6347c787"))
	first, err := setVersion(in, "v2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // map iteration order differs between runs
		out, err := setVersion(in, "v2.0.0")
		if err != nil || !bytes.Equal(out, first) {
			t.Fatalf("outputs differ (err %v)", err)
		}
	}
}

func TestRewriteFileRefusesBadInput(t *testing.T) {
	for name, c := range map[string]struct{ sbom, version, err string }{
		"not JSON":          {"{", "v1", "unexpected EOF"},
		"not CycloneDX":     {`{"bomFormat": "SPDX"}`, "v1", "not a CycloneDX SBOM"},
		"no top component":  {`{"bomFormat": "CycloneDX", "metadata": {}}`, "v1", "no metadata.component"},
		"not a Go purl":     {strings.ReplaceAll(sbom("v0.1.0"), "pkg:golang/", "pkg:npm/"), "v1", "not a Go package URL"},
		"empty version":     {sbom("v0.1.0"), "", "bad version"},
		"version with a ?":  {sbom("v0.1.0"), "v1?x=y", "bad version"},
		"version with an @": {sbom("v0.1.0"), "v1@2", "bad version"},
	} {
		path := filepath.Join(t.TempDir(), "sbom.json")
		if err := os.WriteFile(path, []byte(c.sbom), 0o644); err != nil {
			t.Fatal(err)
		}
		err := rewriteFile(path, c.version)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err = %v, want %q", name, err, c.err)
		}
		if b, _ := os.ReadFile(path); string(b) != c.sbom {
			t.Errorf("%s: the file was changed", name)
		}
	}
}
