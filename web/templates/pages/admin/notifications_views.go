package admin

// NotificationsView is the admin page of email notices.
type NotificationsView struct {
	Status    string // filters, echoed into the form
	EventType string
	Recipient string
	Statuses  []string
	Types     []string
	Counts    []NotificationCount
	Rows      []NotificationRow
	NextURL   string
}

// NotificationCount is how many notices are in one state.
type NotificationCount struct {
	Status string
	N      int64
}

// NotificationRow is one notice.
type NotificationRow struct {
	ID        string
	Created   string
	Recipient string
	Event     string
	Subject   string
	Status    string // queued | sent | failed | retrying | suppressed
	Attempts  int32
	LastError string
	LicenseID string
	CanResend bool
}
