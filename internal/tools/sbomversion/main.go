// Command sbomversion names the release in a CycloneDX SBOM written by
// cyclonedx-gomod:
//
//	sbomversion VERSION FILE
//
// cyclonedx-gomod takes the main module's version from git: a pseudo-version
// (v0.0.0-DATE-COMMIT) on an untagged commit, nothing in a tree without
// .git. A release's SBOM must name the release, so this sets the top
// component's version to VERSION and puts VERSION into its purl and
// bom-ref, everywhere they are referred to (the dependency graph). Every
// purl loses its goos and goarch qualifiers: they describe the machine
// that ran the generator, not the release, which is built for several
// platforms, and would make the SBOM differ between release machines.
//
// FILE is rewritten in place, with its keys in sorted order: the output
// depends only on the input and VERSION.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sbomversion VERSION FILE")
		os.Exit(2)
	}
	if err := rewriteFile(os.Args[2], os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "sbomversion:", err)
		os.Exit(1)
	}
}

func rewriteFile(path, version string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := setVersion(in, version)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// setVersion returns the SBOM sbom with its top component (metadata.
// component) named as version.
func setVersion(sbom []byte, version string) ([]byte, error) {
	if version == "" || strings.ContainsAny(version, "@?#/ ") {
		return nil, fmt.Errorf("bad version %q", version)
	}
	dec := json.NewDecoder(bytes.NewReader(sbom))
	dec.UseNumber() // numbers are written back as they were read
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc["bomFormat"] != "CycloneDX" {
		return nil, errors.New("not a CycloneDX SBOM")
	}
	meta, _ := doc["metadata"].(map[string]any)
	top, _ := meta["component"].(map[string]any)
	if top == nil {
		return nil, errors.New("no metadata.component")
	}
	oldPurl, _ := top["purl"].(string)
	oldRef, _ := top["bom-ref"].(string)
	newPurl, err := purlWithVersion(oldPurl, version)
	if err != nil {
		return nil, fmt.Errorf("purl: %w", err)
	}
	newRef, err := purlWithVersion(oldRef, version)
	if err != nil {
		return nil, fmt.Errorf("bom-ref: %w", err)
	}
	renamed, err := rewrite(doc, map[string]string{oldPurl: newPurl, oldRef: newRef})
	if err != nil {
		return nil, err
	}
	top["version"] = version

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(renamed); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// purlWithVersion returns the Go package URL p (pkg:golang/PATH[@V][?Q])
// with version v and without the qualifiers goos and goarch.
func purlWithVersion(p, v string) (string, error) {
	path, q, err := parsePurl(p)
	if err != nil {
		return "", err
	}
	if at := strings.LastIndex(path, "@"); at > strings.LastIndex(path, "/") {
		path = path[:at]
	}
	return formatPurl(path+"@"+v, q), nil
}

// withoutPlatform returns the Go package URL p without the qualifiers
// goos and goarch.
func withoutPlatform(p string) (string, error) {
	path, q, err := parsePurl(p)
	if err != nil {
		return "", err
	}
	return formatPurl(path, q), nil
}

func parsePurl(p string) (string, url.Values, error) {
	base, query, _ := strings.Cut(p, "?")
	path, ok := strings.CutPrefix(base, "pkg:golang/")
	if !ok || path == "" {
		return "", nil, fmt.Errorf("%q is not a Go package URL", p)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("%q: %w", p, err)
	}
	q.Del("goos")
	q.Del("goarch")
	return path, q, nil
}

func formatPurl(path string, q url.Values) string {
	if len(q) == 0 {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "?" + q.Encode() // sorted by key, as the purl spec wants
}

// rewrite returns v with every string that is a key of r replaced by its
// value, and every other "purl" without its platform qualifiers.
func rewrite(v any, r map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		if n, ok := r[x]; ok {
			return n, nil
		}
	case []any:
		for i := range x {
			n, err := rewrite(x[i], r)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	case map[string]any:
		for k := range x {
			n, err := rewrite(x[k], r)
			if err != nil {
				return nil, err
			}
			if p, ok := n.(string); ok && k == "purl" {
				if n, err = withoutPlatform(p); err != nil {
					return nil, err
				}
			}
			x[k] = n
		}
	}
	return v, nil
}
