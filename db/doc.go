// Package db is NLS's PostgreSQL adapter: the sqlc queries (generated from
// queries/*.sql), the goose migrations, and the Store, whose methods run
// each operation that touches several tables in one transaction, write its
// audit row, and translate PostgreSQL errors into licensing errors. Rows are
// mapped to and from the licensing core's types (standing.go); the rules
// themselves live in licensing.
package db
