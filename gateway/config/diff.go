package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Changes lists the settings that differ between a and b, one YAML path
// each, in file order: "max_body_bytes", "tls.cert_file",
// "tenants[0].keys[1].rate", "cache.ttl[-1]". A list element or map entry
// only one side has is named whole ("routes[2]"). Only paths are
// reported, never values, so a changed secret shows as its path alone.
func Changes(a, b Config) []string {
	var out []string
	changes(reflect.ValueOf(a), reflect.ValueOf(b), "", &out)
	return out
}

func changes(a, b reflect.Value, path string, out *[]string) {
	switch a.Kind() {
	case reflect.Struct:
		as, bs := settings(a), settings(b)
		for i := range as {
			changes(as[i].value, bs[i].value, join(path, as[i].name), out)
		}
	case reflect.Slice:
		for i := range max(a.Len(), b.Len()) {
			p := fmt.Sprintf("%s[%d]", path, i)
			if i >= a.Len() || i >= b.Len() {
				*out = append(*out, p)
				continue
			}
			changes(a.Index(i), b.Index(i), p, out)
		}
	case reflect.Map:
		keys := map[string]reflect.Value{}
		for _, k := range append(a.MapKeys(), b.MapKeys()...) {
			keys[fmt.Sprint(k.Interface())] = k
		}
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := path + "[" + n + "]"
			av, bv := a.MapIndex(keys[n]), b.MapIndex(keys[n])
			if !av.IsValid() || !bv.IsValid() {
				*out = append(*out, p)
				continue
			}
			changes(av, bv, p, out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
	}
}

// Within reports whether path is one of prefixes or lies under one
// ("tenants[0].rate" lies under "tenants").
func Within(path string, prefixes ...string) bool {
	for _, p := range prefixes {
		if path == p || (strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[')) {
			return true
		}
	}
	return false
}

// Take sets each of the settings named by paths (dotted YAML paths of
// sections and settings, no list indices) in dst to its value in src.
func Take(dst *Config, src Config, paths ...string) error {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for _, p := range paths {
		dv, err := lookup(d, p)
		if err != nil {
			return err
		}
		sv, err := lookup(s, p)
		if err != nil {
			return err
		}
		dv.Set(sv)
	}
	return nil
}
