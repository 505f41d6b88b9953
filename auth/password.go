// Package auth hashes and checks passwords, for the portals' sign-in and the CLI alike.
package auth

import (
	"golang.org/x/crypto/bcrypt"
)

// HashPassword hashes a password with bcrypt at the given cost (12 in
// production; tests use the minimum to stay fast).
func HashPassword(password string, cost int) (string, error) {
	if cost < bcrypt.MinCost {
		cost = bcrypt.DefaultCost
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(b), err
}

// CheckPassword reports whether password matches hash, in constant time.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
