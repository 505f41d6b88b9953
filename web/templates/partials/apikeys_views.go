package partials

// APIKeyRow is one management API key, formatted for display.
type APIKeyRow struct {
	ID        string
	Name      string
	Prefix    string
	Scopes    string
	CreatedAt string
	LastUsed  string // "" when never
	RevokedAt string // "" while it works
}
