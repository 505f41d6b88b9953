package client_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/nectarcloud/nls/licensing/client"
)

// CheckLimit's refusal carries the metric, the limit and the current use;
// Refusal turns it into the middleware's JSON answer.
func ExampleLimitError() {
	var err error = &client.LimitError{Metric: "users", Limit: 10, Current: 11}
	var lim *client.LimitError
	if errors.As(err, &lim) {
		fmt.Println(lim.Metric, lim.Limit, lim.Current)
	}
	fmt.Println(err)
	status, body := client.Refusal(err)
	fmt.Println(status, string(body))
	// Output:
	// users 10 11
	// license limit exceeded: users is 11, the license allows 10
	// 403 {"error":{"code":"LIMIT_EXCEEDED","message":"license limit exceeded: users is 11, the license allows 10","metric":"users","limit":10,"current":11}}
}

// A client whose state dir holds a lease from an earlier run answers from it
// at once, before (and without) reaching the server.
func Example_offlineLease() {
	dir, _ := os.MkdirTemp("", "nls-example-")
	defer os.RemoveAll(dir)
	cfg, err := offlineConfig(dir) // a lease left by a previous run, as the server signed it
	if err != nil {
		fmt.Println(err)
		return
	}
	lic, err := client.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	st := lic.Status()
	fmt.Println(st.Valid, st.Code, st.Plan, st.Offline)
	fmt.Println(lic.HasFeature("reports"), lic.HasFeature("sso"))
	fmt.Println(lic.CheckLimit("users", 10), lic.CheckLimit("users", 11))
	// Output:
	// true VALID pro true
	// true false
	// <nil> license limit exceeded: users is 11, the license allows 10
}
