// The one-pass validation body reader agrees with encoding/json on every
// body it accepts, and leaves every other body to it.
package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// carefulMachineBody reads body as decodeJSONLenient does.
func carefulMachineBody(body []byte) (machineBody, error) {
	var b machineBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&b)
	if err == nil && dec.More() {
		err = errTrailing
	}
	return b, err
}

var errTrailing = errors.New("data after the object")

func TestFastMachineBodyAgreesWithTheCarefulReading(t *testing.T) {
	bodies := map[string]bool{ // body → the fast reader should take it
		`{"licenseKey":"k","deploymentId":"d"}`:                                                   true,
		`{"licenseKey":"k.e.y","deploymentId":"hb-1-2","hostname":"host-1","appVersion":"1.0.0"}`: true,
		`{"licenseKey":"k","deploymentId":"d","fingerprint":"fp","fingerprintComponents":{"host":"h1","mac":"m1"},"features":["sso","audit"],"explain":true}`: true,
		` {"licenseKey":"k","deploymentId":"d","features":[],"fingerprintComponents":{},"explain":false} `:                                                    true,
		`{"licenseKey":"k","deploymentId":"d","hostname":null,"features":null,"fingerprintComponents":null,"explain":null}`:                                   true,
		`{"licenseKey":"k","deploymentId":"d","unknown":{"x":[1,{"y":2}]},"other":3}`:                                                                         true,
		`{"licenseKey":"ключ","deploymentId":"d","hostname":"hôte"}`:                                                                                          true,
		`{"LicenseKey":"k","deploymentId":"d"}`:                                                                                                               false, // matched in any case by encoding/json
		`{"licenseKey":"k","deploymentId":"d","EXPLAIN":true}`:                                                                                                false,
		`{"licenseKey":"k","licenseKey":"l","deploymentId":"d"}`:                                                                                              false, // given twice
		`{"licenseKey":1,"deploymentId":"d"}`:                                                                                                                 false,
		`{"licenseKey":"k","deploymentId":"d","features":["a",1]}`:                                                                                            false,
		`{"licenseKey":"k","deploymentId":"d","features":"a"}`:                                                                                                false,
		`{"licenseKey":"k","deploymentId":"d","fingerprintComponents":{"a":1}}`:                                                                               false,
		`{"licenseKey":"k","deploymentId":"d","fingerprintComponents":{"a":null}}`:                                                                            false,
		`{"licenseKey":"k","deploymentId":"d","fingerprintComponents":[]}`:                                                                                    false,
		`{"licenseKey":"k","deploymentId":"d","explain":"yes"}`:                                                                                               false,
		`{"licenseKey":"k\n","deploymentId":"d"}`:                                                                                                             false, // escapes go to encoding/json
		`{"licenseKey":"k\u0000","deploymentId":"d"}`:                                                                                                         false,
		`{"licenseKey":"k","deploymentId":"d"} trailing`:                                                                                                      false,
		`{"licenseKey":"k","deploymentId":"d"`:                                                                                                                false,
		"{\"licenseKey\":\"k\xff\",\"deploymentId\":\"d\"}":                                                                                                   false,
		`["licenseKey"]`: false,
		``:               false,
	}
	for body, want := range bodies {
		fast, ok := parseMachineBodyFast([]byte(body))
		if ok != want {
			t.Errorf("%s: taken by the fast reader %v, want %v", body, ok, want)
			continue
		}
		if !ok {
			continue
		}
		careful, err := carefulMachineBody([]byte(body))
		if err != nil {
			t.Errorf("%s: the fast reader took what encoding/json refuses: %v", body, err)
			continue
		}
		if !reflect.DeepEqual(fast, careful) {
			t.Errorf("%s: the fast reader read\n%+v\nencoding/json\n%+v", body, fast, careful)
		}
	}
}

// FuzzMachineBodyReaders: whatever the fast reader takes, encoding/json reads
// the same. (go test runs the seeds; go test -fuzz explores further.)
func FuzzMachineBodyReaders(f *testing.F) {
	for _, s := range []string{`{"licenseKey":"k","deploymentId":"d","features":["a"],"fingerprintComponents":{"h":"x"}}`,
		`{"licenseKey":null,"explain":true,"x":[]}`, `{"hostname":"","appVersion":"2"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := parseMachineBodyFast(body)
		if !ok {
			return
		}
		careful, err := carefulMachineBody(body)
		if err != nil {
			t.Fatalf("%q: the fast reader took what encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, careful) {
			t.Fatalf("%q: the fast reader read\n%+v\nencoding/json\n%+v", body, fast, careful)
		}
	})
}

// FuzzValidatorsAgree: strictJSON, which the fast readers trust, accepts
// exactly what encoding/json reads.
func FuzzValidatorsAgree(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9\n"],"b":null}`, `{"x":.5}`, `[-0]`, `"\ud800"`, "{\n\t\"a\": 1\r\n}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if strict, valid := strictJSON(body), json.Valid(body); strict != valid {
			t.Fatalf("%q: strictJSON %v, json.Valid %v", body, strict, valid)
		}
	})
}
