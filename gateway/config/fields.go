package config

import (
	"fmt"
	"reflect"
	"strings"
)

// The configuration is walked by its YAML names, the names operators read
// and write: environment overrides name their target by path
// ("upstream.timeout"), secret files name their setting by sibling key,
// and a reload reports changes by path. Inline sections (`timezone`,
// `tenants`) are seen at the level YAML shows them.

// yamlName is a struct field's YAML key ("" when it has none) and whether
// it is inlined into its parent.
func yamlName(f reflect.StructField) (name string, inline bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false
	}
	parts := strings.Split(tag, ",")
	for _, opt := range parts[1:] {
		if opt == "inline" {
			return "", true
		}
	}
	if parts[0] != "" {
		return parts[0], false
	}
	return strings.ToLower(f.Name), false
}

// setting is one YAML-visible field of a struct value.
type setting struct {
	name  string
	field reflect.StructField
	value reflect.Value
}

// settings lists the YAML keys of struct value v, inline sections
// flattened, in declaration order.
func settings(v reflect.Value) []setting {
	var out []setting
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := yamlName(f)
		switch {
		case inline:
			out = append(out, settings(v.Field(i))...)
		case name != "":
			out = append(out, setting{name: name, field: f, value: v.Field(i)})
		}
	}
	return out
}

// child is the setting of struct value v with YAML key name.
func child(v reflect.Value, name string) (setting, bool) {
	for _, s := range settings(v) {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// lookup follows a dotted path of YAML keys through nested sections
// ("sessions.delivery.timeout"). Lists and maps are not paths' business.
func lookup(v reflect.Value, path string) (reflect.Value, error) {
	for _, name := range strings.Split(path, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, fmt.Errorf("%s: %s is not a section", path, name)
		}
		s, ok := child(v, name)
		if !ok {
			return reflect.Value{}, fmt.Errorf("%s: no setting %s", path, name)
		}
		v = s.value
	}
	return v, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
