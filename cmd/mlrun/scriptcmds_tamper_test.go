package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// The tamper scripts' commands live in this file, registered here so that
// scriptcmds_test.go keeps its list of the shared ones.
func init() {
	scriptCmds["forgememo"] = cmdForgeMemo
	scriptCmds["storeobj"] = cmdStoreObj
}

// cmdStoreObj implements "storeobj VAR NS/NAME": set $VAR to the id of the
// object that holds record NS/NAME, as 'mlrun store ls --json NS' lists it
// (the object file is then .mlrun/objects/*/$VAR). Running mlrun replaces
// stdout and stderr, like exec.
func cmdStoreObj(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: storeobj VAR NS/NAME")
	}
	ns, _, ok := strings.Cut(args[1], "/")
	if !ok {
		ts.Fatalf("storeobj: %q is not NS/NAME", args[1])
	}
	if err := ts.Exec("mlrun", "store", "ls", "--json", ns); err != nil {
		ts.Fatalf("storeobj: mlrun store ls %s: %v", ns, err)
	}
	var recs []struct {
		Record string `json:"record"`
		ID     string `json:"id"`
	}
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &recs); err != nil {
		ts.Fatalf("storeobj: mlrun store ls --json: %v", err)
	}
	for _, r := range recs {
		if r.Record == args[1] {
			ts.Setenv(args[0], r.ID)
			return
		}
	}
	ts.Fatalf("storeobj: no record %s in the store", args[1])
}

// cmdForgeMemo implements "forgememo FILE SHA256": rewrite the fingerprint
// memo of FILE (in $MLRUN_CACHE_DIR/fingerprint/) so that it claims SHA256
// for the file's current stat (size, mtime, and on Linux inode and ctime),
// keeping the memo's old MAC, as someone who can write the cache directory
// but does not have the memo key would. It prints the sha256 the memo held.
// Every premise the memo states then matches the file: only the MAC tells
// the forgery apart.
func cmdForgeMemo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: forgememo FILE SHA256")
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(args[1]) {
		ts.Fatalf("forgememo: %q is not a hex SHA-256", args[1])
	}
	dir := ts.Getenv("MLRUN_CACHE_DIR")
	if dir == "" {
		ts.Fatalf("forgememo: MLRUN_CACHE_DIR is not set")
	}
	abs := ts.MkAbs(args[0])
	sum := sha256.Sum256([]byte(abs))
	h := hex.EncodeToString(sum[:])
	memo := filepath.Join(dir, "fingerprint", h[:2], h+".json")
	raw, err := os.ReadFile(memo)
	if err != nil {
		ts.Fatalf("forgememo: no fingerprint memo for %s: %v", abs, err)
	}
	var f struct {
		Key  string `json:"key"`
		Data []byte `json:"data"`
		MAC  string `json:"mac"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		ts.Fatalf("forgememo: %s: %v", memo, err)
	}
	var data map[string]any
	if err := json.Unmarshal(f.Data, &data); err != nil {
		ts.Fatalf("forgememo: %s: data: %v", memo, err)
	}
	old, _ := data["sha256"].(string)
	fi, err := os.Stat(abs)
	ts.Check(err)
	stat := map[string]any{"size": fi.Size(), "mtime_ns": fi.ModTime().UnixNano()}
	if sys := reflect.ValueOf(fi.Sys()); sys.Kind() == reflect.Pointer && sys.Elem().Kind() == reflect.Struct {
		st := sys.Elem()
		// Linux's syscall.Stat_t: the store memoises inode and ctime there
		// only (pipeline/lineage/stat_linux.go).
		if ctim := st.FieldByName("Ctim"); ctim.IsValid() {
			stat["inode"] = st.FieldByName("Ino").Uint()
			stat["ctime_ns"] = ctim.FieldByName("Sec").Int()*1e9 + ctim.FieldByName("Nsec").Int()
		}
	}
	data["stat"] = stat
	data["sha256"] = args[1]
	if f.Data, err = json.Marshal(data); err != nil {
		ts.Fatalf("forgememo: %v", err)
	}
	out, err := json.Marshal(f)
	ts.Check(err)
	ts.Check(os.WriteFile(memo, out, 0o600))
	fmt.Fprintln(ts.Stdout(), old)
}
