// Package httpurl is the one check of a configured or supplied URL: an
// absolute http or https URL with a host.
package httpurl

import (
	"fmt"
	"net/url"
)

// Parse parses s and accepts it only as an absolute http(s) URL with a
// host.
func Parse(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q must be an absolute http(s) URL", s)
	}
	return u, nil
}

// Check is Parse for callers that only need the verdict.
func Check(s string) error {
	_, err := Parse(s)
	return err
}
