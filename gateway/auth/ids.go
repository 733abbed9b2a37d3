package auth

import "regexp"

// IDPattern is the form of a tenant id, and of a key id created through
// the admin API: a letter or digit, then up to 63 letters, digits, dots,
// underscores and hyphens. Such an id is safe in a log line, a metrics
// label, a CSV cell and a URL path segment as it stands.
const IDPattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

var idPattern = regexp.MustCompile(IDPattern)

// ValidID reports whether s matches IDPattern.
func ValidID(s string) bool { return idPattern.MatchString(s) }
