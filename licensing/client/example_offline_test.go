package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nectarcloud/nls/licensing/client"
)

// An air-gapped installation starts from an offline license file that the
// customer downloaded from the customer portal for its deployment id. No
// server is configured: the file's lease is verified with the vendor's
// public keys, which the app ships.
func Example_offlineLicenseFile() {
	dir, _ := os.MkdirTemp("", "nls-example-")
	defer os.RemoveAll(dir)
	file, publicKeys, err := exampleOfflineFile("site-7") // as the portal issues it
	if err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(dir, "offline-license.txt")
	_ = os.WriteFile(path, file, 0o600)

	lic, err := client.New(client.Config{
		OfflineLicenseFile: path,
		DeploymentID:       "site-7",   // the id the file was issued for
		PublicKeys:         publicKeys, // the vendor's JWKS, shipped with the app
		StateDir:           filepath.Join(dir, "state"),
		Logger:             quietLogger(),
	})
	if err != nil {
		fmt.Println(err) // unreadable file, or not an offline license file
		return
	}
	if err := lic.Start(context.Background()); err != nil {
		fmt.Println(err) // expired, for another deployment, edited, clock set back
		return
	}
	defer lic.Close()
	st := lic.Status()
	fmt.Println(st.Valid, st.Code, st.Plan, st.Offline)
	fmt.Println(lic.HasFeature("reports"), st.LeaseExpiresAt.After(time.Now()))
	// Output:
	// true VALID pro true
	// true true
}

// exampleOfflineFile signs an offline license file for deployment with an
// in-memory vendor keyring and returns it with the keyring's public keys.
func exampleOfflineFile(deployment string) ([]byte, []byte, error) {
	k, err := makeOfflineKit()
	if err != nil {
		return nil, nil, err
	}
	f, err := k.makeFile(deployment, time.Now(), 30*24*time.Hour)
	return f, k.jwks, err
}
