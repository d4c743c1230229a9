// Package identity says who is acting: the principal recorded in every
// audit entry, beside the operating system's user and host. It is a claim,
// not a proof (any of its sources can be set by whoever runs mlrun): what
// must be proven (an approval, a waiver, an audit head) is signed with an
// SSH key an allowed-signers file lists (internal/sshsig).
package identity

import (
	"bufio"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// Principal is who acts.
type Principal struct {
	// Actor is the principal: an e-mail address or a CI account
	// ("github:octocat", "gitlab:jdoe"); the OS user@host when nothing
	// else says.
	Actor string `json:"actor"`
	// Via says where Actor came from: "MLRUN_ACTOR", "GitHub Actions",
	// "GitLab CI", "git config", "os".
	Via string `json:"via"`
	// User and Host are the operating system's.
	User string `json:"user"`
	Host string `json:"host"`
}

// Resolve returns the principal: MLRUN_ACTOR, else the CI system's user
// (GitHub Actions: GITHUB_ACTOR; GitLab CI: GITLAB_USER_EMAIL, else
// GITLAB_USER_LOGIN), else git's user.email for the repository holding dir
// (its .git/config, then the user's ~/.gitconfig and
// $XDG_CONFIG_HOME/git/config), else user@host. getenv reads the
// environment (os.Getenv).
func Resolve(getenv func(string) string, dir string) Principal {
	p := Principal{Host: hostname()}
	if u, err := user.Current(); err == nil {
		p.User = u.Username
	} else {
		p.User = getenv("USER")
	}
	switch {
	case getenv("MLRUN_ACTOR") != "":
		p.Actor, p.Via = getenv("MLRUN_ACTOR"), "MLRUN_ACTOR"
	case getenv("GITHUB_ACTIONS") == "true" && getenv("GITHUB_ACTOR") != "":
		p.Actor, p.Via = "github:"+getenv("GITHUB_ACTOR"), "GitHub Actions"
		if r := getenv("GITHUB_REPOSITORY"); r != "" {
			p.Via += " " + r + " run " + getenv("GITHUB_RUN_ID")
		}
	case getenv("GITLAB_CI") == "true" && (getenv("GITLAB_USER_EMAIL") != "" || getenv("GITLAB_USER_LOGIN") != ""):
		p.Actor = getenv("GITLAB_USER_EMAIL")
		if p.Actor == "" {
			p.Actor = "gitlab:" + getenv("GITLAB_USER_LOGIN")
		}
		p.Via = "GitLab CI"
		if r := getenv("CI_PROJECT_PATH"); r != "" {
			p.Via += " " + r + " job " + getenv("CI_JOB_ID")
		}
	default:
		if email := GitEmail(getenv, dir); email != "" {
			p.Actor, p.Via = email, "git config"
		} else {
			p.Actor, p.Via = p.User+"@"+p.Host, "os"
		}
	}
	return p
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// GitEmail returns git's user.email as seen from dir: the repository's
// .git/config (found upwards from dir), then $XDG_CONFIG_HOME/git/config
// (or ~/.config/git/config), then ~/.gitconfig, the first that sets it. It
// reads the files (no git process: this runs on every command) and does
// not follow include directives.
func GitEmail(getenv func(string) string, dir string) string {
	var files []string
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			for d := abs; ; d = filepath.Dir(d) {
				if fi, err := os.Stat(filepath.Join(d, ".git")); err == nil {
					if fi.IsDir() {
						files = append(files, filepath.Join(d, ".git", "config"))
					}
					break
				}
				if filepath.Dir(d) == d {
					break
				}
			}
		}
	}
	home := getenv("HOME")
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		files = append(files, filepath.Join(x, "git", "config"))
	} else if home != "" {
		files = append(files, filepath.Join(home, ".config", "git", "config"))
	}
	if home != "" {
		files = append(files, filepath.Join(home, ".gitconfig"))
	}
	for _, f := range files {
		if e := userEmail(f); e != "" {
			return e
		}
	}
	return ""
}

// userEmail reads [user] email from a git config file.
func userEmail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	section := ""
	email := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.ToLower(strings.TrimSpace(strings.Trim(line, "[]")))
			continue
		}
		if section != "user" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "email") {
			v = strings.TrimSpace(v)
			if i := strings.IndexAny(v, "#;"); i >= 0 && !strings.HasPrefix(v, `"`) {
				v = strings.TrimSpace(v[:i])
			}
			email = strings.Trim(v, `"`) // the last one wins, as in git
		}
	}
	return email
}

// String renders "actor (via; user@host)".
func (p Principal) String() string {
	return p.Actor + " (" + p.Via + "; " + p.User + "@" + p.Host + ")"
}
