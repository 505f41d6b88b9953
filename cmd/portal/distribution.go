package main

// Distribution wiring and commands: the blob store and registry keys the
// server uses, "portal release publish" (a CI pipeline's way to publish
// through the management API) and "portal registry config" (the auth.token
// section a registry needs, with its JWKS file).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nectarcloud/nls/blobstore"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// DistConfig is the distribution part of Config.
type DistConfig struct {
	BlobDir          string
	DownloadSecret   string
	DownloadTTL      time.Duration
	UploadLimit      int64
	RegistryKeysDir  string
	RegistryService  string
	RegistryIssuer   string
	RegistryTokenTTL time.Duration
	RegistryKeyDelay time.Duration
	RegistryHost     string
	S3               blobstore.S3Config // S3.Bucket set: artifacts live in S3
	DevRegistry      string             // a registry binary serve runs as a child process (make run)
	DevRegistryAddr  string
}

func loadDistConfig(r *envReader, c *Config) {
	c.Dist = DistConfig{
		BlobDir:          r.str("NLS_BLOB_DIR", filepath.Join(c.DataDir, "artifacts")),
		DownloadSecret:   r.secret("NLS_DOWNLOAD_SECRET"),
		DownloadTTL:      r.duration("NLS_DOWNLOAD_TTL", 5*time.Minute),
		UploadLimit:      largeSize(r, "NLS_UPLOAD_LIMIT", 16<<30),
		RegistryKeysDir:  r.str("NLS_REGISTRY_KEYS_DIR", filepath.Join(c.DataDir, "registry-keys")),
		RegistryService:  r.str("NLS_REGISTRY_SERVICE", "nls-registry"),
		RegistryIssuer:   r.str("NLS_REGISTRY_ISSUER", c.Issuer),
		RegistryTokenTTL: r.duration("NLS_REGISTRY_TOKEN_TTL", 5*time.Minute),
		RegistryKeyDelay: r.duration("NLS_REGISTRY_KEY_DELAY", 24*time.Hour),
		RegistryHost:     r.str("NLS_REGISTRY_HOST", ""),
		S3: blobstore.S3Config{Endpoint: r.str("NLS_S3_ENDPOINT", ""), Region: r.str("NLS_S3_REGION", "us-east-1"),
			Bucket: r.str("NLS_S3_BUCKET", ""), Prefix: r.str("NLS_S3_PREFIX", ""),
			AccessKeyID: r.str("NLS_S3_ACCESS_KEY_ID", ""), SecretAccessKey: r.secret("NLS_S3_SECRET_ACCESS_KEY"),
			PathStyle: r.bool("NLS_S3_PATH_STYLE", false)},
		DevRegistry:     r.str("NLS_DEV_REGISTRY", ""),
		DevRegistryAddr: r.addr("NLS_DEV_REGISTRY_ADDR", "localhost:5000"),
	}
	if c.Dist.DevRegistry != "" && c.Dist.RegistryHost == "" {
		// The portal's image references then name the registry customers pull from.
		c.Dist.RegistryHost = c.Dist.DevRegistryAddr
	}
}

// largeSize reads a byte count that may pass 1 GiB: 17179869184, 512MiB, 16GiB.
func largeSize(r *envReader, name string, def int64) int64 {
	v := strings.ToUpper(strings.TrimSpace(r.getenv(name)))
	if v == "" {
		return def
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}} {
		if strings.HasSuffix(v, u.suffix) {
			mult, v = u.m, strings.TrimSpace(strings.TrimSuffix(v, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		r.fail(name, "a size such as 1073741824, 512MiB or 16GiB", r.getenv(name))
		return def
	}
	return n * mult
}

func (c Config) distributionConfig() handlers.DistributionConfig {
	d := c.Dist
	return handlers.DistributionConfig{DownloadTTL: d.DownloadTTL, UploadLimit: d.UploadLimit,
		RegistryService: d.RegistryService, RegistryIssuer: d.RegistryIssuer, RegistryTokenTTL: d.RegistryTokenTTL,
		RegistryKeyDelay: d.RegistryKeyDelay, RegistryHost: d.RegistryHost}
}

// openDistribution opens the artifact store (S3 when a bucket is
// configured, else the filesystem; local is set only for the latter, whose
// links the portal serves) and the registry keyring, creating what a first
// start needs.
func (e *cmdEnv) openDistribution() (store blobstore.Store, local *blobstore.FS, ring *licensing.Keyring, err error) {
	if e.cfg.Dist.S3.Bucket != "" {
		if store, err = blobstore.NewS3(e.cfg.Dist.S3); err != nil {
			return nil, nil, nil, fmt.Errorf("NLS_S3_BUCKET: %w", err)
		}
	} else {
		secret, err := e.downloadSecret()
		if err != nil {
			return nil, nil, nil, err
		}
		if local, err = blobstore.NewFS(e.cfg.Dist.BlobDir, secret, e.cfg.BaseURL+"/dl", nil); err != nil {
			return nil, nil, nil, fmt.Errorf("NLS_BLOB_DIR: %w", err)
		}
		store = local
	}
	ring, created, err := licensing.LoadOrInitKeyring(e.cfg.Dist.RegistryKeysDir, time.Now())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("NLS_REGISTRY_KEYS_DIR: %w", err)
	}
	if created {
		e.log.Info("generated a registry token signing key", "dir", e.cfg.Dist.RegistryKeysDir)
	}
	return store, local, ring, nil
}

// downloadSecret is the key of the filesystem store's signed download
// links: NLS_DOWNLOAD_SECRET, or else one derived from the seal key, which
// every process on one database already shares (README, several
// processes), so a link one process signs works on all of them.
func (e *cmdEnv) downloadSecret() ([]byte, error) {
	if e.cfg.Dist.DownloadSecret != "" {
		return []byte(e.cfg.Dist.DownloadSecret), nil
	}
	sealKey, err := e.dataSecret(e.cfg.SealKey, "seal.key")
	if err != nil {
		return nil, err
	}
	k := sha256.Sum256([]byte("nls-download-links:" + sealKey))
	return k[:], nil
}

// registry handles "portal registry config|rotate".
func (e *cmdEnv) registry(_ context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("registry: expected config or rotate")
	}
	_, _, ring, err := e.openDistribution()
	if err != nil {
		return err
	}
	switch args[0] {
	case "config":
		fl := flag.NewFlagSet("registry config", flag.ContinueOnError)
		fl.SetOutput(e.stderr)
		jwksPath := fl.String("jwks", "/etc/distribution/nls-jwks.json", "where the registry reads the JWKS (written by --write-jwks)")
		write := fl.String("write-jwks", "", "also write the JWKS to this file")
		if err := fl.Parse(args[1:]); err != nil {
			return usageErr(err.Error())
		}
		jwks, err := ring.JWKS()
		if err != nil {
			return err
		}
		if *write != "" {
			if err := os.WriteFile(*write, jwks, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprint(e.stdout, handlers.RegistryAuthSection(e.cfg.BaseURL, e.cfg.Dist.RegistryService, e.cfg.Dist.RegistryIssuer, *jwksPath))
		return nil
	case "rotate":
		info, err := ring.Rotate(licensing.AlgEdDSA, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added registry signing key %s; it signs tokens once %s have passed.\n"+
			"Refresh the registry's JWKS (portal registry config --write-jwks FILE) and restart it before then.\n",
			info.Kid, e.cfg.Dist.RegistryKeyDelay)
		return nil
	}
	return usageErr("registry: expected config or rotate")
}

// release handles "portal release publish --product P --version V --channel C FILE...":
// it creates the release, uploads each file (streamed, with its SHA-256 for
// the server to check) and publishes it, through the management API at
// --url with the API key in --api-key (or NLS_URL and NLS_API_KEY).
func (e *cmdEnv) release(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "publish" {
		return usageErr("release: expected publish")
	}
	fl := flag.NewFlagSet("release publish", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	product := fl.String("product", "", "product code")
	version := fl.String("version", "", "semantic version")
	channel := fl.String("channel", "stable", "stable, rc, beta, alpha or dev")
	notes := fl.String("notes", "", "release notes")
	platform := fl.String("platform", "", "platform of the files (e.g. linux)")
	arch := fl.String("arch", "", "architecture of the files (e.g. amd64)")
	server := fl.String("url", firstNonEmpty(getenv("NLS_URL"), e.cfg.BaseURL), "the portal's URL")
	apiKey := fl.String("api-key", getenv("NLS_API_KEY"), "an API key with the releases:write scope")
	if err := fl.Parse(args[1:]); err != nil {
		return usageErr(err.Error())
	}
	if *product == "" || *version == "" || *apiKey == "" {
		return usageErr("release publish: --product, --version and an API key (--api-key or NLS_API_KEY) are required")
	}
	cl := &apiClient{base: strings.TrimRight(*server, "/"), key: *apiKey}
	var rel struct {
		ID string `json:"id"`
	}
	if err := cl.json(ctx, http.MethodPost, "/api/releases", map[string]any{"product": *product, "version": *version,
		"channel": *channel, "notes": *notes}, &rel); err != nil {
		return err
	}
	for _, path := range fl.Args() {
		if err := cl.upload(ctx, rel.ID, path, *platform, *arch); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "uploaded %s\n", filepath.Base(path))
	}
	if err := cl.json(ctx, http.MethodPatch, "/api/releases/"+rel.ID, map[string]any{"publish": true}, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "published %s %s on %s\n%s\n", *product, *version, *channel, rel.ID)
	return nil
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

type apiClient struct{ base, key string }

func (c *apiClient) do(req *http.Request, out any) error {
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

func (c *apiClient) json(ctx context.Context, method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

// upload streams one file: hashed in a first pass, sent in a second, so
// neither pass holds it in memory.
func (c *apiClient) upload(ctx context.Context, releaseID, path, platform, arch string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	q := url.Values{}
	if platform != "" {
		q.Set("platform", platform)
	}
	if arch != "" {
		q.Set("arch", arch)
	}
	u := c.base + "/api/releases/" + releaseID + "/artifacts/" + url.PathEscape(filepath.Base(path))
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Checksum-Sha256", hex.EncodeToString(h.Sum(nil)))
	return c.do(req, nil)
}

// seedDistribution adds the demo product: a release with an install script
// as its artifact, pullable as acme/server; enterprise licenses keep what
// was published before they expire (maintain) and see release candidates,
// pro licenses get stable releases while valid.
func (e *cmdEnv) seedDistribution(ctx context.Context, store *db.Store, actor licensing.Actor, now time.Time) error {
	blobs, _, _, err := e.openDistribution()
	if err != nil {
		return err
	}
	if _, err := store.CreateProduct(ctx, actor, "acme-server", "Acme Server", "acme/server", now); err != nil {
		return err
	}
	published := now.Add(-time.Hour)
	rel, err := store.CreateRelease(ctx, actor, db.NewRelease{Product: "acme-server", Version: "1.0.0", Channel: "stable",
		Notes: "First release of the demo product.", PublishedAt: &published}, now)
	if err != nil {
		return err
	}
	script := []byte("#!/bin/sh\necho 'Acme Server 1.0.0 installed (demo)'\n")
	key := "demo-acme-server-1.0.0"
	w, err := blobs.Put(ctx, key, bytes.NewReader(script))
	if err != nil {
		return err
	}
	if _, err := store.AddArtifact(ctx, actor, db.CreateArtifactParams{ReleaseID: rel.ID, Filename: "install.sh",
		Platform: "linux", Arch: "amd64", ContentType: "text/x-shellscript", SizeBytes: w.Size, Sha256: w.SHA256[:],
		BlobKey: key}, now); err != nil {
		return err
	}
	for code, ent := range map[string]licensing.Entitlement{
		"enterprise": {Products: []string{"acme-server"}, Channels: []licensing.Channel{licensing.ChannelStable, licensing.ChannelRC},
			Expiry: licensing.ExpiryMaintain},
		"pro": {Products: []string{"acme-server"}, Channels: []licensing.Channel{licensing.ChannelStable}, Expiry: licensing.ExpiryRestrict},
	} {
		plan, err := store.GetPlanByCode(ctx, code)
		if err != nil {
			return err
		}
		if err := store.SetPlanDistribution(ctx, actor, plan.ID, ent, now); err != nil {
			return err
		}
	}
	return nil
}
