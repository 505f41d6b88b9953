package licensing

// Actor types: who did something, for the audit log.
const (
	ActorAdmin        = "admin"
	ActorCustomerUser = "customer_user"
	ActorAPIKey       = "api_key"
	ActorStripe       = "stripe"
	ActorSystem       = "system"
	ActorClient       = "client" // an installation, authenticated by its license key
)

// Actor is who performs a change, and from where.
type Actor struct {
	Type      string
	ID        string
	Label     string
	IP        string
	UserAgent string
	RequestID string
}

// SystemActor is the portal itself (seeding, migrations, jobs).
func SystemActor(label string) Actor { return Actor{Type: ActorSystem, Label: label} }
