package pipeline

import (
	"fmt"
	"testing"
)

// TestNonFiniteParams: NaN and ±Inf are not param values, in the file or
// in a -p override (issue 14: `-p min_auc=.nan` ran and failed to record
// the run with exit 3); each is an error naming the param, at its place
// in the file, with exit code 2. Quoted, the text is a string.
func TestNonFiniteParams(t *testing.T) {
	reg := fakeRegistry()
	const hint = " is not a valid param value (want a finite number; quote it for the text %q)"
	tests := []struct {
		params    string
		overrides map[string]string
		want      string
	}{
		{"{f: 0.5}", map[string]string{"f": ".nan"}, "-p f=.nan: NaN" + fmt.Sprintf(hint, ".nan")},
		{"{f: 0.5}", map[string]string{"f": ".inf"}, "-p f=.inf: +Inf" + fmt.Sprintf(hint, ".inf")},
		{"{f: 0.5}", map[string]string{"f": "-.Inf"}, "-p f=-.Inf: -Inf" + fmt.Sprintf(hint, "-.Inf")},
		{"{f: 0.5}", map[string]string{"f": "+.INF"}, "-p f=+.INF: +Inf" + fmt.Sprintf(hint, "+.INF")},
		{"{f: [1]}", map[string]string{"f": "[1, .NaN]"}, "-p f=[1, .NaN]: NaN" + fmt.Sprintf(hint, ".NaN")},
		{"{f: .nan}", nil, "p.yaml:3:13: param \"f\": NaN" + fmt.Sprintf(hint, ".nan")},
		{"{f: [0.5, -.inf]}", nil, "p.yaml:3:19: param \"f\": -Inf" + fmt.Sprintf(hint, "-.inf")},
		{"{f: .nan, g: .inf}", nil, "p.yaml:3:13: param \"f\": NaN" + fmt.Sprintf(hint, ".nan") + "\n" +
			"p.yaml:3:22: param \"g\": +Inf" + fmt.Sprintf(hint, ".inf")},
		// The file alone would not run: reported even when overridden.
		{"{f: .nan}", map[string]string{"f": "0.5"}, "p.yaml:3:13: param \"f\": NaN" + fmt.Sprintf(hint, ".nan")},
		{"{f: 0.5}", map[string]string{"f": `".nan"`}, ""},
		{"{f: 0.5}", map[string]string{"f": "nan"}, ""},
		{"{f: '.inf'}", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.params+fmt.Sprint(tt.overrides), func(t *testing.T) {
			src := "mlrun: 1\nname: p\nparams: " + tt.params + "\nsteps:\n  raw:\n    kind: source\n    path: a.csv\n"
			_, err := Parse("p.yaml", []byte(src), LoadOptions{Registry: reg, Overrides: tt.overrides})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("error:\n got %v\nwant %s", err, tt.want)
			case tt.want != "" && ExitCode(err) != ExitInvalid:
				t.Errorf("exit code %d, want %d", ExitCode(err), ExitInvalid)
			}
		})
	}
}
