package sshsig

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func allowedLine(principal string, s ssh.Signer, opts string) string {
	line := principal + " "
	if opts != "" {
		line += opts + " "
	}
	return line + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestSignVerify(t *testing.T) {
	alice, mallory := newSigner(t), newSigner(t)
	msg := []byte("mlrun approval\nrequest: r1\n")
	sig, err := Sign(alice, "mlrun-approval", msg)
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := ParseAllowedSigners([]byte(allowedLine("alice@bank.example", alice, `namespaces="mlrun-approval,mlrun-waiver"`) + "\n# a comment\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if p, _, err := allowed.Verify(sig, "mlrun-approval", msg, now); err != nil || p != "alice@bank.example" {
		t.Fatalf("Verify = %q, %v", p, err)
	}
	cases := []struct {
		name string
		sig  []byte
		ns   string
		msg  []byte
		want error
	}{
		{"another message", sig, "mlrun-approval", []byte("mlrun approval\nrequest: r2\n"), ErrInvalid},
		{"another namespace", sig, "mlrun-waiver", msg, ErrInvalid},
		{"garbage", []byte("not a signature"), "mlrun-approval", msg, ErrInvalid},
		{"a key not allowed", must(Sign(mallory, "mlrun-approval", msg)), "mlrun-approval", msg, ErrNotAllowed},
		{"an allowed key outside its namespaces", must(Sign(alice, "mlrun-audit-head", msg)), "mlrun-audit-head", msg, ErrNotAllowed},
	}
	for _, c := range cases {
		if _, _, err := allowed.Verify(c.sig, c.ns, c.msg, now); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// A tampered signature blob (a character of the base64 changed, near
	// the end where the signature bytes are).
	bad := []byte(string(sig))
	i := len(bad) - len(armorEnd) - 20
	if bad[i] == 'A' {
		bad[i] = 'B'
	} else {
		bad[i] = 'A'
	}
	if _, _, err := allowed.Verify(bad, "mlrun-approval", msg, now); err == nil {
		t.Error("a tampered signature verified")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestAllowedSignersValidity(t *testing.T) {
	alice := newSigner(t)
	a, err := ParseAllowedSigners([]byte(allowedLine("alice", alice, `valid-after="20260101",valid-before="20270101Z"`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at string
		ok bool
	}{{"2025-06-01T00:00:00Z", false}, {"2026-06-01T00:00:00Z", true}, {"2027-06-01T00:00:00Z", false}} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if _, ok := a.Principal(alice.PublicKey(), "x", at); ok != c.ok {
			t.Errorf("at %s: allowed = %v, want %v", c.at, ok, c.ok)
		}
	}
	for _, bad := range []string{"alice", "alice cert-authority ssh-ed25519 AAAA", "alice bogus=1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(alice.PublicKey())))} {
		if _, err := ParseAllowedSigners([]byte(bad)); err == nil {
			t.Errorf("ParseAllowedSigners(%q) accepted", bad)
		}
	}
}

// Interoperability with OpenSSH: ssh-keygen -Y sign is verified here, and
// what Sign makes is verified by ssh-keygen -Y verify, for ed25519, ECDSA
// and RSA keys.
func TestOpenSSH(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed")
	}
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "msg")
	msg := []byte("payload to sign\n")
	os.WriteFile(msgFile, msg, 0o600)
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			key := filepath.Join(dir, "id_"+typ)
			if out, err := exec.Command(keygen, "-q", "-t", typ, "-N", "", "-C", "", "-f", key).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen: %v\n%s", err, out)
			}
			pub, _ := os.ReadFile(key + ".pub")
			allowedFile := filepath.Join(dir, "allowed_"+typ)
			os.WriteFile(allowedFile, []byte("signer@example "+string(pub)), 0o600)
			allowed, err := ParseAllowedSigners([]byte("signer@example " + string(pub)))
			if err != nil {
				t.Fatal(err)
			}
			// OpenSSH signs, we verify.
			os.Remove(msgFile + ".sig")
			if out, err := exec.Command(keygen, "-Y", "sign", "-f", key, "-n", "mlrun-test", msgFile).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
			}
			sig, _ := os.ReadFile(msgFile + ".sig")
			if p, _, err := allowed.Verify(sig, "mlrun-test", msg, time.Now()); err != nil || p != "signer@example" {
				t.Fatalf("verify ssh-keygen's signature: %q, %v", p, err)
			}
			// We sign, OpenSSH verifies.
			signer, err := LoadSigner(key, nil)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := Sign(signer, "mlrun-test", msg)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(msgFile+".ours", ours, 0o600)
			cmd := exec.Command(keygen, "-Y", "verify", "-f", allowedFile, "-I", "signer@example", "-n", "mlrun-test", "-s", msgFile+".ours")
			cmd.Stdin = strings.NewReader(string(msg))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y verify of our signature: %v\n%s", err, out)
			}
		})
	}
}
