package partials

// CustomerFilter is the customer list's query, echoed into the form and links.
type CustomerFilter struct {
	Q        string
	Archived bool // include archived customers
}

// CustomerRow is one customer in the list.
type CustomerRow struct {
	ID        string
	Name      string
	Email     string
	Company   string
	CreatedAt string
	Archived  bool
}

// CustomerResults is the customer list's swap target.
type CustomerResults struct {
	Rows     []CustomerRow
	NextURL  string // "" on the last page
	Filtered bool   // a search or filter applied
	Error    string // a query that could not be read
}
