// Package licensing is the domain core of NLS: license keys, the signing
// keyring, leases, a license's standing and its transitions, effective
// status, grace end, the seat rule and deployment state, validation
// decisions, the billing policy and usage metrics. It reads no clock, opens
// no socket and runs no SQL: every adapter (db, handlers, the client
// package) imports it, and it imports none of them.
//
// Below are the formats of the core, which other programs depend on.
//
// # License key
//
//	NLS-{E}-{C}
//	E = base64url (no padding) of the compact JWS "header.payload.signature"
//	C = first 8 lowercase hex characters of SHA-256("NLS-" + E)
//
// Keys are parsed from the right (E may contain '-'). Spaces, tabs, \r and
// \n anywhere are removed first (mail clients wrap long keys); any other
// foreign character is refused. A bad prefix, structure or checksum, E that
// is not strict base64url, or E that does not decode to three dot-separated
// base64url parts is INVALID_KEY. Everything else wrong (unreadable header,
// unknown kid, alg not the kid's alg, bad signature, a token that is not a
// key) is INVALID_SIGNATURE. The server stores KeyHash (SHA-256 of the
// normalised key) and KeyPrefix (12 characters, safe to log).
//
// JWS header: alg, kid, typ "JWT". Payload: iss, sub (license id), jti (key
// id), iat, cid, plan, features, limits, maxDeployments (0/absent =
// unlimited), licenseExpiresAt (unix seconds; absent = perpetual), startsAt.
// A key never has exp: an expired license may still be in grace.
//
// # Lease
//
// A compact JWS signed with an asymmetric key (never HMAC): aud is the
// deployment id, sub the license id, iss, iat, exp (end of the offline
// window, never past the grace or dunning end), and status, code,
// customerId, plan, features, limits, maxDeployments, startsAt,
// licenseExpiresAt, graceEndsAt, pastDueSince, dunningEndsAt (times in unix
// seconds); from the policies: maxVersion (a VERSION_LOCKED lease, whose exp
// is bounded by the lease window only), fingerprint (the machine the
// deployment is bound to) and limitEnforcement ({metric: "soft"}).
//
// # Keys and JWKS
//
// Each signing key has a kid and one pinned alg (EdDSA, RS256, PS256 or
// HS256); a token is checked only with its kid's key and alg. Key files are
// described at pemPrivateKey in keyring.go. The JWKS (RFC 7517, RFC 8037)
// lists public keys only, with kid, alg and use "sig"; ParseJWKS turns it
// into a Verifier for offline checks.
//
// # Time
//
// Nothing here reads the clock: every function that depends on time takes
// now as a parameter.
package licensing
