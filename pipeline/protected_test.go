package pipeline

import (
	"reflect"
	"testing"
)

func TestProtectedAndReasons(t *testing.T) {
	src := []byte(`mlrun: 1
name: p
protected: [age, gender]
reasons:
  dti: Debt too high relative to income
steps:
  raw:
    kind: source
    path: a.csv
`)
	p, err := Parse("p.yaml", src, LoadOptions{Registry: fakeRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"age", "gender"}; !reflect.DeepEqual(p.Protected, want) {
		t.Errorf("Protected = %v, want %v", p.Protected, want)
	}
	if got := p.ProtectedPos[1].String(); got != "p.yaml:3:18" {
		t.Errorf("ProtectedPos[1] = %s, want p.yaml:3:18", got)
	}
	if want := map[string]string{"dti": "Debt too high relative to income"}; !reflect.DeepEqual(p.Reasons, want) {
		t.Errorf("Reasons = %v, want %v", p.Reasons, want)
	}
}
