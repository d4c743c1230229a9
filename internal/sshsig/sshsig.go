// Package sshsig signs and verifies messages with SSH keys in the format
// of `ssh-keygen -Y sign` and `ssh-keygen -Y verify` (OpenSSH's
// PROTOCOL.sshsig: "SSHSIG" blobs, armored as "SSH SIGNATURE"), the
// format git uses for SSH-signed commits, and reads OpenSSH allowed-signers
// files (principals, namespaces=, valid-after=, valid-before=). mlrun uses it
// for approvals, waivers and signed audit heads: a signature is valid only
// when made by a key the allowed signers list for the namespace, so a
// principal named by an environment variable proves nothing.
package sshsig

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	magic      = "SSHSIG"
	sigVersion = 1
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrInvalid reports a signature that does not verify (malformed, for
	// another namespace or message, or by another key).
	ErrInvalid = errors.New("invalid SSH signature")
	// ErrNotAllowed reports a valid signature by a key the allowed signers
	// do not list (for the namespace, at the time).
	ErrNotAllowed = errors.New("signed by a key that is not an allowed signer")
)

func putString(b *bytes.Buffer, s []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	b.Write(n[:])
	b.Write(s)
}

func readString(b []byte) ([]byte, []byte, error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return nil, nil, errors.New("truncated")
	}
	return b[4 : 4+n], b[4+n:], nil
}

func hasher(alg string) (hash.Hash, error) {
	switch alg {
	case "sha512":
		return sha512.New(), nil
	case "sha256":
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("%w: hash algorithm %q", ErrInvalid, alg)
}

// signedData is what the key signs: the preamble, namespace, reserved
// field, hash algorithm and the hash of the message.
func signedData(namespace, hashAlg string, message []byte) ([]byte, error) {
	h, err := hasher(hashAlg)
	if err != nil {
		return nil, err
	}
	h.Write(message)
	var b bytes.Buffer
	b.WriteString(magic)
	putString(&b, []byte(namespace))
	putString(&b, nil)
	putString(&b, []byte(hashAlg))
	putString(&b, h.Sum(nil))
	return b.Bytes(), nil
}

// Sign signs message in namespace with signer (SHA-512, as ssh-keygen
// does) and returns the armored signature.
func Sign(signer ssh.Signer, namespace string, message []byte) ([]byte, error) {
	if namespace == "" {
		return nil, errors.New("sshsig: empty namespace")
	}
	data, err := signedData(namespace, "sha512", message)
	if err != nil {
		return nil, err
	}
	var sig *ssh.Signature
	if as, ok := signer.(ssh.AlgorithmSigner); ok && signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return nil, fmt.Errorf("sshsig: sign: %w", err)
	}
	var blob bytes.Buffer
	blob.WriteString(magic)
	binary.Write(&blob, binary.BigEndian, uint32(sigVersion))
	putString(&blob, signer.PublicKey().Marshal())
	putString(&blob, []byte(namespace))
	putString(&blob, nil)
	putString(&blob, []byte("sha512"))
	putString(&blob, ssh.Marshal(sig))
	return armor(blob.Bytes()), nil
}

func armor(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString(armorBegin + "\n")
	for len(enc) > 70 {
		b.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	b.WriteString(enc + "\n" + armorEnd + "\n")
	return []byte(b.String())
}

// Signature is a parsed SSH signature.
type Signature struct {
	// Key is the public key that made it.
	Key       ssh.PublicKey
	Namespace string
	HashAlg   string
	sig       *ssh.Signature
}

// Parse parses an armored signature (no verification).
func Parse(armored []byte) (*Signature, error) {
	s := strings.TrimSpace(string(armored))
	if !strings.HasPrefix(s, armorBegin) || !strings.HasSuffix(s, armorEnd) {
		return nil, fmt.Errorf("%w: not an armored SSH SIGNATURE", ErrInvalid)
	}
	body := strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimPrefix(s, armorBegin), armorEnd)), "")
	blob, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(blob) < 10 || string(blob[:6]) != magic {
		return nil, fmt.Errorf("%w: no SSHSIG preamble", ErrInvalid)
	}
	if v := binary.BigEndian.Uint32(blob[6:10]); v != sigVersion {
		return nil, fmt.Errorf("%w: version %d", ErrInvalid, v)
	}
	rest := blob[10:]
	var fields [5][]byte
	for i := range fields {
		if fields[i], rest, err = readString(rest); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	key, err := ssh.ParsePublicKey(fields[0])
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrInvalid, err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(fields[4], &sig); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalid, err)
	}
	return &Signature{Key: key, Namespace: string(fields[1]), HashAlg: string(fields[3]), sig: &sig}, nil
}

// Verify checks that armored is a valid signature of message in namespace
// and returns it (with the key that made it). It does not check who the
// key belongs to: see AllowedSigners.Verify.
func Verify(armored []byte, namespace string, message []byte) (*Signature, error) {
	s, err := Parse(armored)
	if err != nil {
		return nil, err
	}
	if s.Namespace != namespace {
		return nil, fmt.Errorf("%w: made for namespace %q, not %q", ErrInvalid, s.Namespace, namespace)
	}
	if s.Key.Type() == ssh.KeyAlgoRSA && s.sig.Format == ssh.KeyAlgoRSA {
		return nil, fmt.Errorf("%w: RSA signatures must use rsa-sha2-256 or rsa-sha2-512", ErrInvalid)
	}
	data, err := signedData(namespace, s.HashAlg, message)
	if err != nil {
		return nil, err
	}
	if err := s.Key.Verify(data, s.sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s, nil
}

// Fingerprint returns the key's SHA256 fingerprint, as ssh-keygen -l shows.
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// AllowedSigners is a parsed OpenSSH allowed-signers file.
type AllowedSigners struct {
	entries []signer
}

type signer struct {
	principals []string
	namespaces []string // nil: any
	after      time.Time
	before     time.Time
	key        ssh.PublicKey
}

// ParseAllowedSigners parses an allowed-signers file (ssh-keygen(1),
// "ALLOWED SIGNERS"): one key per line, "principals [options] keytype key
// [comment]", with the options namespaces="a,b", valid-after=, valid-before=
// (YYYYMMDD[HHMM[SS]][Z]). cert-authority is refused (not supported).
func ParseAllowedSigners(data []byte) (*AllowedSigners, error) {
	a := &AllowedSigners{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := splitFields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("allowed signers, line %d: want principals [options] keytype key", n+1)
		}
		s := signer{principals: strings.Split(fields[0], ",")}
		rest := fields[1:]
		// Options come before the key type: a field that parses as a key
		// type with the next field ends them.
		for len(rest) >= 2 {
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest[0] + " " + rest[1])); err == nil {
				s.key = k
				break
			}
			for _, opt := range splitOptions(rest[0]) {
				name, val, _ := strings.Cut(opt, "=")
				val = strings.Trim(val, `"`)
				switch strings.ToLower(name) {
				case "namespaces":
					s.namespaces = strings.Split(val, ",")
				case "valid-after", "valid-before":
					t, err := parseSSHTime(val)
					if err != nil {
						return nil, fmt.Errorf("allowed signers, line %d: %s: %v", n+1, name, err)
					}
					if name == "valid-after" {
						s.after = t
					} else {
						s.before = t
					}
				case "cert-authority":
					return nil, fmt.Errorf("allowed signers, line %d: cert-authority is not supported", n+1)
				default:
					return nil, fmt.Errorf("allowed signers, line %d: unknown option %q", n+1, name)
				}
			}
			rest = rest[1:]
		}
		if s.key == nil {
			return nil, fmt.Errorf("allowed signers, line %d: no public key", n+1)
		}
		a.entries = append(a.entries, s)
	}
	return a, nil
}

// splitOptions splits options on commas outside double quotes.
func splitOptions(s string) []string {
	var out []string
	start, quoted := 0, false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// splitFields splits on spaces outside double quotes.
func splitFields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case (r == ' ' || r == '\t') && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func parseSSHTime(s string) (time.Time, error) {
	utc := strings.HasSuffix(s, "Z")
	s = strings.TrimSuffix(s, "Z")
	loc := time.Local
	if utc {
		loc = time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(s) == len(layout) {
			return time.ParseInLocation(layout, s, loc)
		}
	}
	return time.Time{}, fmt.Errorf("%q is not YYYYMMDD[HHMM[SS]][Z]", s)
}

// Principal returns the first principal listed for key in namespace at
// time at, and whether there is one.
func (a *AllowedSigners) Principal(key ssh.PublicKey, namespace string, at time.Time) (string, bool) {
	if a == nil {
		return "", false
	}
	want := key.Marshal()
	for _, s := range a.entries {
		if !bytes.Equal(s.key.Marshal(), want) {
			continue
		}
		if s.namespaces != nil && !matchAny(s.namespaces, namespace) {
			continue
		}
		if !s.after.IsZero() && at.Before(s.after) || !s.before.IsZero() && !at.Before(s.before) {
			continue
		}
		return s.principals[0], true
	}
	return "", false
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == s || p == "*" || strings.HasSuffix(p, "*") && strings.HasPrefix(s, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// Verify checks armored as a signature of message in namespace by an
// allowed signer at time at, and returns the signer's principal.
func (a *AllowedSigners) Verify(armored []byte, namespace string, message []byte, at time.Time) (string, *Signature, error) {
	s, err := Verify(armored, namespace, message)
	if err != nil {
		return "", nil, err
	}
	p, ok := a.Principal(s.Key, namespace, at)
	if !ok {
		return "", s, fmt.Errorf("%w (%s %s, namespace %s)", ErrNotAllowed, s.Key.Type(), Fingerprint(s.Key), namespace)
	}
	return p, s, nil
}

// Len returns the number of keys listed.
func (a *AllowedSigners) Len() int {
	if a == nil {
		return 0
	}
	return len(a.entries)
}
