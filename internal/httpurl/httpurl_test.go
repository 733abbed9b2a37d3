package httpurl

import "testing"

func TestCheck(t *testing.T) {
	for s, ok := range map[string]bool{
		"http://127.0.0.1:8081":          true,
		"https://api.authority.example/": true,
		"ftp://x":                        false,
		"/relative":                      false,
		"http://":                        false,
		"http://a b":                     false,
		"":                               false,
	} {
		if err := Check(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}
