package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "STRATA"

// envTarget is one environment variable and the key it overrides.
type envTarget struct {
	name  string        // e.g. STRATA_DATASETS_ORDERS_ANALYTICS_RETENTION
	root  reflect.Value // addressable struct the index path starts from
	index []int         // field indexes from root to the key
}

// envTargets lists the variables that may override c's keys: one per
// top-level key and one per key of each dataset already in c.
func (c *Config) envTargets() []envTarget {
	var out []envTarget
	root := reflect.ValueOf(c).Elem()
	for _, k := range envKeys(EnvPrefix, root.Type(), nil) {
		out = append(out, envTarget{k.name, root, k.index})
	}
	for i := range c.Datasets {
		ds := reflect.ValueOf(&c.Datasets[i]).Elem()
		prefix := EnvPrefix + "_DATASETS_" + strings.ToUpper(c.Datasets[i].Name)
		for _, k := range envKeys(prefix, ds.Type(), nil) {
			if k.name != prefix+"_NAME" { // a dataset is addressed by its name; it cannot rename itself
				out = append(out, envTarget{k.name, ds, k.index})
			}
		}
	}
	return out
}

type envKey struct {
	name  string
	index []int
}

// envKeys derives variable names from yaml tags: the upper-cased key path
// joined with '_'. Lists of sections (datasets) are left to the caller.
func envKeys(prefix string, t reflect.Type, index []int) []envKey {
	var out []envKey
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		name, idx := prefix+"_"+strings.ToUpper(tag), append(slices.Clone(index), i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			continue
		case ft.Kind() == reflect.Struct && !isScalarType(ft):
			out = append(out, envKeys(name, ft, idx)...)
		default:
			out = append(out, envKey{name, idx})
		}
	}
	return out
}

func isScalarType(t reflect.Type) bool {
	return t == reflect.TypeFor[Duration]() || t == reflect.TypeFor[TableName]()
}

// applyEnv overrides keys from the environment. An empty variable counts as
// unset. A variable that two datasets' keys map to is an error when set.
func (c *Config) applyEnv(env func(string) string) error {
	targets := c.envTargets()
	count := map[string]int{}
	for _, t := range targets {
		count[t.name]++
	}
	var errs []error
	for _, t := range targets {
		val := strings.TrimSpace(env(t.name))
		if val == "" {
			continue
		}
		if count[t.name] > 1 {
			errs = append(errs, c.fieldError(t.name, "is ambiguous: two datasets' keys make the same variable (rename one dataset)"))
			count[t.name] = 0 // report once
			continue
		}
		if count[t.name] == 0 {
			continue
		}
		if err := setField(t.root, t.index, val); err != nil {
			errs = append(errs, c.fieldError(t.name, err.Error()))
		}
	}
	return errors.Join(errs...)
}

// setField parses val into the field at index below root, allocating
// sections (source, analytics) that the file left out.
func setField(root reflect.Value, index []int, val string) error {
	v := root
	for _, i := range index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	switch p := v.Addr().Interface().(type) {
	case *Duration:
		d, err := ParseDuration(val)
		*p = d
		return err
	case *TableName:
		t, err := ParseTableName(val)
		*p = t
		return err
	case *[]string:
		*p = splitList(val)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%q is not true or false", val)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(val, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number", val)
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("cannot be set from the environment") // unreachable for Config's field types
	}
	return nil
}

// splitList reads a comma-separated list such as "customer_id, region".
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		out = append(out, strings.TrimSpace(part))
	}
	return out
}
