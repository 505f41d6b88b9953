// Package email holds the templ views of the emails NLS sends: one notice
// layout rendered twice, as HTML and as plain text, for multipart messages.
package email

// Notice is one email's content.
type Notice struct {
	Title          string   // the heading; the subject says the same
	Greeting       string   // e.g. "Hello,"
	Lines          []string // paragraphs
	Facts          []Fact   // a short table of dates and figures
	ActionLabel    string   // the button; empty: none
	ActionURL      string
	UnsubscribeURL string // empty: a notice that cannot be unsubscribed from (the staff digest)
	Reason         string // why the recipient gets this email
}

// Fact is one labelled value in a notice.
type Fact struct {
	Label string
	Value string
}
