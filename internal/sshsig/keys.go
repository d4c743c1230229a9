package sshsig

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// LoadSigner returns a signer for the key at path: a private key file
// (OpenSSH or PEM; passphrase decrypts an encrypted one), or a public key
// file (name.pub) whose private key the SSH agent at $SSH_AUTH_SOCK holds,
// as git's gpg.format=ssh does with user.signingkey.
func LoadSigner(path string, passphrase []byte) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		return agentSigner(pub)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("signing key %s is encrypted: give its passphrase (MLRUN_SSH_PASSPHRASE) or use the SSH agent with %s.pub", path, strings.TrimSuffix(path, ".pub"))
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(data, passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return s, nil
}

func agentSigner(pub ssh.PublicKey) (ssh.Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("signing key: a public key was given but no SSH agent is running (SSH_AUTH_SOCK is empty)")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("signing key: SSH agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		return nil, fmt.Errorf("signing key: SSH agent: %w", err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("signing key: the SSH agent does not hold %s", Fingerprint(pub))
}
