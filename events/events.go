// Package events is the catalogue of NLS domain events: each type's name
// and the JSON shape of its data, in one list that the outbox, the
// notifications, outbound webhooks and the OpenAPI document all read.
package events

import (
	"time"

	"github.com/google/uuid"
)

// Event types. Names are entity.past_tense_or_state, lower case.
const (
	LicenseCreated          = "license.created"
	LicenseUpdated          = "license.updated"
	LicenseSuspended        = "license.suspended"
	LicenseReactivated      = "license.reactivated"
	LicenseRevoked          = "license.revoked"
	LicenseRenewed          = "license.renewed"
	LicenseRekeyed          = "license.rekeyed"
	LicenseExpiringSoon     = "license.expiring_soon"
	LicenseExpired          = "license.expired"
	LicenseGraceStarted     = "license.grace_started"
	LicenseGraceEnding      = "license.grace_ending"
	LicensePaymentOverdue   = "license.payment_overdue"
	LicenseDunningSuspended = "license.dunning_suspended"
	DeploymentActivated     = "deployment.activated"
	DeploymentReleased      = "deployment.released"
	DeploymentStale         = "deployment.stale"
	UsageLimitNear          = "usage.limit_near"
	UsageLimitReached       = "usage.limit_reached"
	CustomerCreated         = "customer.created"
	CustomerUpdated         = "customer.updated"
	WebhookEndpointDisabled = "webhook_endpoint.disabled"
	FindingOpened           = "finding.opened"
	FindingResolved         = "finding.resolved"
)

// Data is an event's payload: it names the entities it concerns.
type Data interface {
	Refs() Refs
}

// Refs are the ids an event row is indexed by.
type Refs struct {
	LicenseID    *uuid.UUID
	CustomerID   *uuid.UUID
	DeploymentID *uuid.UUID
}

// Event is one domain event to record. MilestoneKey is set on time-based
// events: the outbox records one event per key, ever.
type Event struct {
	Type         string
	OccurredAt   time.Time
	Data         Data
	MilestoneKey string
}

// License is the data of license.created, .updated, .suspended,
// .reactivated, .revoked, .renewed and .rekeyed: the license after the change.
type License struct {
	LicenseID       uuid.UUID  `json:"licenseId"`
	CustomerID      uuid.UUID  `json:"customerId"`
	Plan            string     `json:"plan"`
	Status          string     `json:"status" doc:"stored status: active, suspended or revoked"`
	ExpiresAt       *time.Time `json:"expiresAt"`
	SuspendedReason *string    `json:"suspendedReason"`
	Action          string     `json:"action" doc:"the audited action that made the change, e.g. license.renew"`
}

// Refs names the license and its customer.
func (d License) Refs() Refs { return Refs{LicenseID: &d.LicenseID, CustomerID: &d.CustomerID} }

// Milestone is the data of the time-based license events.
type Milestone struct {
	LicenseID     uuid.UUID  `json:"licenseId"`
	CustomerID    uuid.UUID  `json:"customerId"`
	Plan          string     `json:"plan"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	GraceEndsAt   *time.Time `json:"graceEndsAt"`
	DaysBefore    *int       `json:"daysBefore" doc:"license.expiring_soon: the reminder offset, in days before expiry"`
	PastDueSince  *time.Time `json:"pastDueSince"`
	DunningEndsAt *time.Time `json:"dunningEndsAt"`
	Stripe        bool       `json:"stripe" doc:"the license is billed through a Stripe subscription"`
}

// Refs names the license and its customer.
func (d Milestone) Refs() Refs { return Refs{LicenseID: &d.LicenseID, CustomerID: &d.CustomerID} }

// Deployment is the data of deployment.activated, .released and .stale.
type Deployment struct {
	LicenseID    uuid.UUID `json:"licenseId"`
	CustomerID   uuid.UUID `json:"customerId"`
	DeploymentID uuid.UUID `json:"deploymentId" doc:"the deployment's own id in NLS"`
	ClientID     string    `json:"clientDeploymentId" doc:"the id the installation calls itself by"`
	Hostname     string    `json:"hostname"`
	LastSeenAt   time.Time `json:"lastSeenAt"`
}

// Refs names the license, customer and deployment.
func (d Deployment) Refs() Refs {
	return Refs{LicenseID: &d.LicenseID, CustomerID: &d.CustomerID, DeploymentID: &d.DeploymentID}
}

// UsageLimit is the data of usage.limit_near (80 %) and usage.limit_reached (100 %).
type UsageLimit struct {
	LicenseID   uuid.UUID `json:"licenseId"`
	CustomerID  uuid.UUID `json:"customerId"`
	Metric      string    `json:"metric"`
	Used        int64     `json:"used"`
	Limit       int64     `json:"limit"`
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
}

// Refs names the license and its customer.
func (d UsageLimit) Refs() Refs { return Refs{LicenseID: &d.LicenseID, CustomerID: &d.CustomerID} }

// Customer is the data of customer.created and .updated.
type Customer struct {
	CustomerID uuid.UUID `json:"customerId"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	Company    string    `json:"company"`
}

// Refs names the customer.
func (d Customer) Refs() Refs { return Refs{CustomerID: &d.CustomerID} }

// WebhookEndpoint is the data of webhook_endpoint.disabled.
type WebhookEndpoint struct {
	EndpointID   uuid.UUID  `json:"endpointId"`
	URL          string     `json:"url"`
	Reason       string     `json:"reason" doc:"why deliveries stopped: a 410 answer, or failing since failingSince"`
	FailingSince *time.Time `json:"failingSince" doc:"the first failed attempt of the run of failures, if any"`
}

// Refs names nothing: an endpoint belongs to the vendor, not a customer.
func (d WebhookEndpoint) Refs() Refs { return Refs{} }

// Finding is the data of finding.opened and .resolved: an insight the
// detectors drew from usage and validation records.
type Finding struct {
	FindingID   uuid.UUID  `json:"findingId"`
	Kind        string     `json:"kind" doc:"sharing_suspected, seat_cycling, key_attack, usage_anomaly, seatless_usage, upgrade_opportunity, right_sizing, churn_risk or forecast"`
	Severity    string     `json:"severity" doc:"info, warning or critical"`
	Subject     string     `json:"subject" doc:"the license id, or source:<kind>:<address> for attacks from one address"`
	LicenseID   *uuid.UUID `json:"licenseId"`
	CustomerID  *uuid.UUID `json:"customerId"`
	Title       string     `json:"title"`
	FirstSeenAt time.Time  `json:"firstSeenAt"`
}

// Refs names the license and customer, when the finding concerns one.
func (d Finding) Refs() Refs { return Refs{LicenseID: d.LicenseID, CustomerID: d.CustomerID} }

// Spec describes one event type.
type Spec struct {
	Type        string
	Description string
	Data        Data // a zero value of the payload type
	TimeBased   bool // found by the lifecycle job, once per milestone
}

// Catalogue is every event type NLS records, in the order the OpenAPI
// document lists them.
var Catalogue = []Spec{
	{LicenseCreated, "A license was issued.", License{}, false},
	{LicenseUpdated, "A license's entitlements, dates or billing facts changed.", License{}, false},
	{LicenseSuspended, "A license was suspended by an admin, the API or billing.", License{}, false},
	{LicenseReactivated, "A suspended license was reactivated.", License{}, false},
	{LicenseRevoked, "A license was revoked for good.", License{}, false},
	{LicenseRenewed, "A license's expiry moved later (an admin renewal or a paid invoice).", License{}, false},
	{LicenseRekeyed, "A license got a new key; the old key stopped validating.", License{}, false},
	{LicenseExpiringSoon, "A license expires in daysBefore days (one event per reminder offset).", Milestone{}, true},
	{LicenseExpired, "A license's grace period ended: it no longer validates.", Milestone{}, true},
	{LicenseGraceStarted, "A license passed its expiry and is in its grace period.", Milestone{}, true},
	{LicenseGraceEnding, "A license's grace period ends within three days.", Milestone{}, true},
	{LicensePaymentOverdue, "A payment failed; the license validates until the dunning period ends.", Milestone{}, true},
	{LicenseDunningSuspended, "The dunning period ended unpaid: the license is suspended.", Milestone{}, true},
	{DeploymentActivated, "An installation took a seat for the first time.", Deployment{}, false},
	{DeploymentReleased, "An installation's seat was released.", Deployment{}, false},
	{DeploymentStale, "An active installation stopped checking in within its heartbeat window.", Deployment{}, true},
	{UsageLimitNear, "A metric reached 80 % of its limit in the current period.", UsageLimit{}, true},
	{UsageLimitReached, "A metric reached its limit in the current period.", UsageLimit{}, true},
	{CustomerCreated, "A customer was added.", Customer{}, false},
	{CustomerUpdated, "A customer's details changed.", Customer{}, false},
	{WebhookEndpointDisabled, "A webhook endpoint was disabled: it answered 410 Gone, or every delivery failed for days.", WebhookEndpoint{}, false},
	{FindingOpened, "The insights detectors opened a finding (sharing, seat cycling, an attack on keys, a usage anomaly, an upgrade or right-sizing opportunity, churn risk, a limit forecast).", Finding{}, true},
	{FindingResolved, "A finding's condition went away: it was resolved.", Finding{}, true},
}

// Lookup returns the spec of an event type.
func Lookup(typ string) (Spec, bool) {
	for _, s := range Catalogue {
		if s.Type == typ {
			return s, true
		}
	}
	return Spec{}, false
}
