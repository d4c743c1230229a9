package identity

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	home := t.TempDir()
	repo := filepath.Join(t.TempDir(), "repo")
	os.MkdirAll(filepath.Join(repo, ".git"), 0o755)
	os.MkdirAll(filepath.Join(repo, "sub", "dir"), 0o755)
	os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Global\n\temail = global@example.com\n"), 0o644)
	env := func(m map[string]string) func(string) string {
		return func(k string) string {
			if k == "HOME" {
				return home
			}
			return m[k]
		}
	}
	cases := []struct {
		name      string
		env       map[string]string
		repoEmail string
		actor     string
		via       string
	}{
		{"MLRUN_ACTOR wins", map[string]string{"MLRUN_ACTOR": "alice@bank.example", "GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo"}, "", "alice@bank.example", "MLRUN_ACTOR"},
		{"GitHub Actions", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo", "GITHUB_REPOSITORY": "acme/risk", "GITHUB_RUN_ID": "42"}, "", "github:octo", "GitHub Actions acme/risk run 42"},
		{"GitLab CI with an e-mail", map[string]string{"GITLAB_CI": "true", "GITLAB_USER_EMAIL": "jdoe@acme.example", "GITLAB_USER_LOGIN": "jdoe"}, "", "jdoe@acme.example", "GitLab CI"},
		{"GitLab CI with a login", map[string]string{"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "jdoe"}, "", "gitlab:jdoe", "GitLab CI"},
		{"the repository's git config", nil, "[core]\n\tbare = false\n[user]\n\temail = repo@example.com ; a comment\n", "repo@example.com", "git config"},
		{"the global git config", nil, "", "global@example.com", "git config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(filepath.Join(repo, ".git", "config"))
			if c.repoEmail != "" {
				os.WriteFile(filepath.Join(repo, ".git", "config"), []byte(c.repoEmail), 0o644)
			}
			p := Resolve(env(c.env), filepath.Join(repo, "sub", "dir"))
			if p.Actor != c.actor || p.Via != c.via || p.User == "" || p.Host == "" {
				t.Fatalf("Resolve = %+v, want actor %q via %q", p, c.actor, c.via)
			}
		})
	}
	// Nothing says: user@host.
	os.Remove(filepath.Join(home, ".gitconfig"))
	p := Resolve(env(nil), t.TempDir())
	if p.Via != "os" || p.Actor != p.User+"@"+p.Host {
		t.Fatalf("Resolve with nothing = %+v", p)
	}
}
