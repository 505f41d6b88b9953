package components

// Which actions the signed-in user may take, as templates ask it: a page
// shows a button, link or form only when its target route would not refuse
// the user. The handlers install the answer once per request (from the
// admin route table and the user's role); templates never decide by role.

import "context"

// Allower answers whether the signed-in user may send method to path.
type Allower func(method, path string) bool

type allowerKey struct{}

// WithAllower returns ctx carrying a.
func WithAllower(ctx context.Context, a Allower) context.Context {
	return context.WithValue(ctx, allowerKey{}, a)
}

// Allowed reports whether the user may send method to path. Without an
// Allower (the customer portal, whose routes have no roles, and views
// rendered outside a request) everything is allowed.
func Allowed(ctx context.Context, method, path string) bool {
	a, _ := ctx.Value(allowerKey{}).(Allower)
	return a == nil || a(method, path)
}

// CanPost is Allowed for a POST to path, the verb of every admin action.
func CanPost(ctx context.Context, path string) bool { return Allowed(ctx, "POST", path) }

// CanGet is Allowed for a GET of path, for links to pages that change things.
func CanGet(ctx context.Context, path string) bool { return Allowed(ctx, "GET", path) }
