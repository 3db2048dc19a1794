package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnits checks deploy/systemd with systemd-analyze verify
// (./scripts/test installs Debian's systemd when it is missing): any
// message is a failure, since verify reports unknown keys and bad values
// as warnings with exit status 0. The binaries are replaced by /bin/true,
// which exists everywhere, and the NATS template is verified as nats@1.
// Each unit must run as its own user with the hardening the deployment
// guide promises and take its secrets by LoadCredential.
func TestSystemdUnits(t *testing.T) {
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) != 4 {
		t.Fatalf("units: %v", units)
	}
	dir := t.TempDir()
	var args []string
	users := map[string]bool{}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "LoadCredential=", "\nUser="} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %s", u, strings.TrimSpace(want))
			}
		}
		user := text[strings.Index(text, "\nUser=")+6:]
		user = user[:strings.Index(user, "\n")]
		if users[user] || user == "root" {
			t.Errorf("%s runs as %s, not a dedicated user", u, user)
		}
		users[user] = true
		name := filepath.Base(u)
		if name == "nats@.service" {
			name = "nats@1.service"
		}
		text = strings.NewReplacer("/usr/local/bin/chaff", "/bin/true", "/usr/local/bin/nats-server", "/bin/true").Replace(text)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "./"+name)
	}
	if out := verify(t, dir, args...); out != "" {
		t.Errorf("systemd-analyze verify:\n%s", out)
	}
	// Negative control: a bad value and an unknown key are reported.
	os.WriteFile(filepath.Join(dir, "bad.service"), []byte("[Service]\nExecStart=/bin/true\nProtectSystem=bogus\nNoSuchKey=1\n"), 0o644)
	if out := verify(t, dir, "./bad.service"); !strings.Contains(out, "bogus") || !strings.Contains(out, "NoSuchKey") {
		t.Errorf("verify did not report a broken unit: %q", out)
	}
}

func verify(t *testing.T, dir string, units ...string) string {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is missing: ./scripts/test installs it (apt-get install systemd)")
	}
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=no", "--generators=no"}, units...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
	return strings.TrimSpace(string(out))
}
