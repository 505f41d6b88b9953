// Distribution in the store: products, releases and artifacts written with
// their audit rows, entitlements read into the licensing core's terms, and
// downloads counted per license.

package db

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// CreateProduct adds a product; its repository defaults to its code.
func (s *Store) CreateProduct(ctx context.Context, actor licensing.Actor, code, name, repository string, now time.Time) (Product, error) {
	if repository == "" {
		repository = code
	}
	if err := licensing.ValidateProduct(code, name, repository); err != nil {
		return Product{}, err
	}
	var p Product
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		if p, err = q.CreateProduct(ctx, CreateProductParams{Code: code, Name: name, Repository: repository}); err != nil {
			return conflictAs(err, "code", "a product with this code or repository already exists")
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "product.create", EntityType: "product", EntityID: p.ID.String(), After: p}, now)
	})
	return p, err
}

// NewRelease is a release to create.
type NewRelease struct {
	Product     string // product code
	Version     string
	Channel     string
	Notes       string
	PublishedAt *time.Time // nil: a draft
}

// CreateRelease adds a release to a product.
func (s *Store) CreateRelease(ctx context.Context, actor licensing.Actor, in NewRelease, now time.Time) (Release, error) {
	var pr licensing.Problems
	v, err := licensing.ParseVersion(in.Version)
	if err != nil {
		pr.Add("version", "a semantic version, e.g. 1.4.0 or 2.0.0-rc.1")
	}
	if _, err := licensing.ParseChannel(in.Channel); err != nil {
		pr.Add("channel", "one of stable, rc, beta, alpha, dev")
	}
	pr.CheckText("notes", in.Notes, false, 20000)
	if err := pr.Err(); err != nil {
		return Release{}, err
	}
	var r Release
	err = s.inTx(ctx, func(q *Queries) error {
		p, err := q.GetProductByCode(ctx, in.Product)
		if err != nil {
			return notFoundAs(err, "product not found: "+in.Product)
		}
		r, err = q.CreateRelease(ctx, CreateReleaseParams{ProductID: p.ID, Version: v.String(), Channel: in.Channel,
			Notes: in.Notes, PublishedAt: in.PublishedAt})
		if err != nil {
			return conflictAs(err, "version", "this product already has a release "+v.String())
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "release.create", EntityType: "release", EntityID: r.ID.String(), After: r}, now)
	})
	return r, err
}

// ChangeRelease applies change (notes, publication, yanking) to a release.
func (s *Store) ChangeRelease(ctx context.Context, actor licensing.Actor, id uuid.UUID, change func(*Release), now time.Time) (Release, error) {
	var r Release
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetRelease(ctx, id)
		if err != nil {
			return notFound(err, "release")
		}
		after := before
		change(&after)
		if r, err = q.UpdateRelease(ctx, UpdateReleaseParams{ID: id, Notes: after.Notes, PublishedAt: after.PublishedAt,
			YankedAt: after.YankedAt}); err != nil {
			return Translate(err)
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "release.update", EntityType: "release", EntityID: id.String(),
			Before: before, After: r}, now)
	})
	return r, err
}

// AddArtifact records an artifact whose blob is already stored.
func (s *Store) AddArtifact(ctx context.Context, actor licensing.Actor, p CreateArtifactParams, now time.Time) (Artifact, error) {
	var a Artifact
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		if a, err = q.CreateArtifact(ctx, p); err != nil {
			return conflictAs(err, "filename", "this release already has a file named "+p.Filename)
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "artifact.create", EntityType: "artifact", EntityID: a.ID.String(), After: a}, now)
	})
	return a, err
}

// SetPlanDistribution sets what a plan's licenses may fetch.
func (s *Store) SetPlanDistribution(ctx context.Context, actor licensing.Actor, planID uuid.UUID, e licensing.Entitlement, now time.Time) error {
	if err := checkEntitlement(e); err != nil {
		return err
	}
	return s.inTx(ctx, func(q *Queries) error {
		if _, err := q.GetPlan(ctx, planID); err != nil {
			return notFound(err, "plan")
		}
		if err := q.UpsertPlanDistribution(ctx, UpsertPlanDistributionParams{PlanID: planID, Products: e.Products,
			Channels: channelStrings(e.Channels), ExpiryStrategy: string(e.Expiry)}); err != nil {
			return Translate(err)
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "plan.distribution", EntityType: "plan", EntityID: planID.String(), After: e}, now)
	})
}

// SetLicenseDistribution overrides a license's entitlement; nil fields keep
// the plan's.
func (s *Store) SetLicenseDistribution(ctx context.Context, actor licensing.Actor, licenseID uuid.UUID, products []string,
	channels []licensing.Channel, expiry *licensing.ExpiryStrategy, now time.Time) error {
	var strategy *string
	if expiry != nil {
		s := string(*expiry)
		strategy = &s
	}
	var chans []string
	if channels != nil {
		chans = channelStrings(channels)
	}
	return s.inTx(ctx, func(q *Queries) error {
		l, err := q.GetLicense(ctx, licenseID)
		if err != nil {
			return notFound(err, "license")
		}
		if err := q.UpsertLicenseDistribution(ctx, UpsertLicenseDistributionParams{LicenseID: licenseID, Products: products,
			Channels: chans, ExpiryStrategy: strategy}); err != nil {
			return Translate(err)
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "license.distribution", EntityType: "license", EntityID: licenseID.String(),
			CustomerID: &l.CustomerID, After: map[string]any{"products": products, "channels": chans, "expiryStrategy": strategy}}, now)
	})
}

func checkEntitlement(e licensing.Entitlement) error {
	var pr licensing.Problems
	for _, c := range e.Channels {
		if _, err := licensing.ParseChannel(string(c)); err != nil {
			pr.Add("channels", "unknown channel "+string(c))
		}
	}
	if _, err := licensing.ParseExpiryStrategy(string(e.Expiry)); err != nil {
		pr.Add("expiryStrategy", "one of restrict, maintain, allow")
	}
	if len(e.Products) > 100 {
		pr.Add("products", "at most 100")
	}
	return pr.Err()
}

func channelStrings(cs []licensing.Channel) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if !slices.Contains(out, string(c)) {
			out = append(out, string(c))
		}
	}
	return out
}

// Distribution is a license's standing and entitlement.
type Distribution struct {
	LicenseID   uuid.UUID
	CustomerID  uuid.UUID
	Facts       licensing.LicenseFacts
	Entitlement licensing.Entitlement
	KeyReplaced bool
}

func distributionOf(id, customer uuid.UUID, status string, starts time.Time, expires *time.Time, grace int32,
	payment string, pastDue *time.Time, dunning int32, products, channels []string, strategy string) Distribution {
	l := License{Status: status, StartsAt: starts, ExpiresAt: expires, GraceDays: grace, PaymentState: payment,
		PastDueSince: pastDue, DunningDays: dunning}
	chans := make([]licensing.Channel, len(channels))
	for i, c := range channels {
		chans[i] = licensing.Channel(c)
	}
	return Distribution{LicenseID: id, CustomerID: customer, Facts: l.FactsForStatus(),
		Entitlement: licensing.Entitlement{Products: products, Channels: chans, Expiry: licensing.ExpiryStrategy(strategy)}}
}

// DistributionByKeyHash loads the license a key belongs to.
func (s *Store) DistributionByKeyHash(ctx context.Context, hash []byte) (Distribution, error) {
	r, err := s.q.GetDistributionByKeyHash(ctx, hash)
	if err != nil {
		return Distribution{}, notFound(err, "license")
	}
	d := distributionOf(r.ID, r.CustomerID, r.Status, r.StartsAt, r.ExpiresAt, r.GraceDays, r.PaymentState, r.PastDueSince,
		r.DunningDays, r.Products, r.Channels, r.ExpiryStrategy)
	d.KeyReplaced = r.KeyReplacedAt != nil
	return d, nil
}

// DistributionByLicense loads a license's standing and entitlement.
func (s *Store) DistributionByLicense(ctx context.Context, id uuid.UUID) (Distribution, error) {
	r, err := s.q.GetDistributionByLicense(ctx, id)
	if err != nil {
		return Distribution{}, notFound(err, "license")
	}
	return distributionOf(r.ID, r.CustomerID, r.Status, r.StartsAt, r.ExpiresAt, r.GraceDays, r.PaymentState, r.PastDueSince,
		r.DunningDays, r.Products, r.Channels, r.ExpiryStrategy), nil
}

// ReleaseFacts turns a release row into the core's terms.
func ReleaseFacts(product, version, channel string, published, yanked *time.Time) licensing.Release {
	v, _ := licensing.ParseVersion(version) // stored versions were parsed on the way in
	return licensing.Release{Product: product, Version: v, Channel: licensing.Channel(channel), PublishedAt: published, YankedAt: yanked}
}

// RecordDownload counts and audits one artifact handed to a license.
func (s *Store) RecordDownload(ctx context.Context, actor licensing.Actor, d Distribution, a GetArtifactWithReleaseRow,
	via string, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		if err := q.InsertDownload(ctx, InsertDownloadParams{LicenseID: d.LicenseID, ArtifactID: a.ID, Via: via, OccurredAt: now}); err != nil {
			return Translate(err)
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "artifact.download", EntityType: "license", EntityID: d.LicenseID.String(),
			CustomerID: &d.CustomerID, After: map[string]any{"artifactId": a.ID, "product": a.ProductCode, "version": a.Version,
				"filename": a.Filename, "via": via}}, now)
	})
}

// The reads handlers call. Each returns the query's rows; errors arrive
// already translated by the connection (conn.go).

func (s *Store) ListProducts(ctx context.Context) ([]Product, error) { return s.q.ListProducts(ctx) }

func (s *Store) ListReleasesWithProduct(ctx context.Context, maxRows int32) ([]ListReleasesWithProductRow, error) {
	return s.q.ListReleasesWithProduct(ctx, maxRows)
}

func (s *Store) GetReleaseWithProduct(ctx context.Context, id uuid.UUID) (GetReleaseWithProductRow, error) {
	return s.q.GetReleaseWithProduct(ctx, id)
}

func (s *Store) GetReleaseByRepositoryVersion(ctx context.Context, arg GetReleaseByRepositoryVersionParams) (GetReleaseByRepositoryVersionRow, error) {
	return s.q.GetReleaseByRepositoryVersion(ctx, arg)
}

func (s *Store) ListPublishedReleasesForProducts(ctx context.Context, codes []string) ([]ListPublishedReleasesForProductsRow, error) {
	return s.q.ListPublishedReleasesForProducts(ctx, codes)
}

func (s *Store) ListArtifactsByRelease(ctx context.Context, releaseID uuid.UUID) ([]Artifact, error) {
	return s.q.ListArtifactsByRelease(ctx, releaseID)
}

func (s *Store) ListArtifactsByReleases(ctx context.Context, releaseIDs []uuid.UUID) ([]Artifact, error) {
	return s.q.ListArtifactsByReleases(ctx, releaseIDs)
}

func (s *Store) GetArtifactWithRelease(ctx context.Context, id uuid.UUID) (GetArtifactWithReleaseRow, error) {
	return s.q.GetArtifactWithRelease(ctx, id)
}

func (s *Store) CountDownloadsByLicense(ctx context.Context, licenseID uuid.UUID) (int64, error) {
	return s.q.CountDownloadsByLicense(ctx, licenseID)
}
