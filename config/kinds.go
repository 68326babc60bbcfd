package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is the syntax of a setting's value, on the command line and in
// TOML, and the Go type of its Config field.
type kind int

const (
	kindString  kind = iota // string
	kindInt                 // int; decimal
	kindInt64               // int64; decimal
	kindMask                // int; decimal, 0o/0x prefixed, or octal with a leading 0
	kindBool                // bool; a flag without value, or true/false
	kindSeconds             // time.Duration; whole seconds, or a Go duration such as "1.5s"
	kindList                // []string; the flag repeats, one item each time
	kindCSV                 // []string; one comma-separated value
	kindJSON                // string; a JSON object, in compact form ("" = none); a table or a dict in config files
)

// setting is one row of the settings table.
type setting struct {
	name  string   // Gunicorn's setting name and the TOML key
	flags []string // long flag names without "--"; the first one is shown in help
	short string   // one-letter flag name, "" if none
	kind  kind
	def   string // default, in command-line syntax
	// env names an environment variable that, when non-empty, replaces
	// def (after fromEnv, when set).
	env     string
	fromEnv func(string) string
	// help is one line for --help; for a flag that takes a value, the
	// value's placeholder is written in backquotes: "run `N` workers".
	help string
	// normalize validates a parsed value and returns it in canonical
	// form; the argument and result have the field's Go type. nil
	// accepts anything the kind parses.
	normalize func(any) (any, error)
	// field returns a pointer to the Config field; nil for switches and
	// ignored Gunicorn settings.
	field func(*Config) any
	// notice, for a Gunicorn setting gowsgi accepts and ignores (the
	// ignored table), says why it changes nothing.
	notice string
	// served: an ignored setting whose purpose gowsgi serves another way
	// (worker_tmp_dir: liveness goes over a pipe), so its notice is a
	// remark, logged at info, not a warning a deployment would alert on.
	served bool
	// refuse, for an ignored Gunicorn setting some of whose values ask
	// for what gowsgi cannot give, returns the reason for such a value
	// ("" for the others). The value is the flag's string, or the Python
	// config file's value (a str, an int, a list, ...).
	refuse func(v any) string
	// secret: --print-config writes the value as a comment saying it is
	// set, never the value itself.
	secret bool
	// intOK: a kindString setting that takes a whole number from a config
	// file as its decimal text, as Gunicorn takes user = 1000 and
	// ssl_version = ssl.PROTOCOL_TLSv1_2.
	intOK bool
	// modes: a kindBool setting that also takes these words, each meaning
	// true or false (Gunicorn 26's proxy_protocol = "v2"); on the command
	// line the flag takes one as its optional value (--proxy-protocol v2).
	modes map[string]bool
	// negation: a flag that sets the kindBool setting of that name to the
	// opposite of its own value (--no-sendfile: sendfile = false); it has
	// no field of its own (negations, args.go).
	negation string
	// pyNone, when not "", is the value a config file's None gives, in
	// command-line syntax; otherwise None is the kind's zero value.
	pyNone string
}

// takesValue reports whether the flag consumes an argument.
func (s *setting) takesValue() bool { return s.kind != kindBool }

// placeholder is the name of the value in help: "N" for "run `N` workers".
func (s *setting) placeholder() string {
	_, rest, _ := strings.Cut(s.help, "`")
	name, _, _ := strings.Cut(rest, "`")
	return name
}

// flagName is the flag as shown to users: "--bind".
func (s *setting) flagName() string {
	if len(s.flags) == 0 {
		return s.name
	}
	return "--" + s.flags[0]
}

// parseArgs converts the command-line values given for s in one source
// (each occurrence of the flag, in order) to the field's Go type. For a
// boolean flag an empty string means the flag was given without value.
func (s *setting) parseArgs(values []string) (any, error) {
	if s.kind == kindList {
		return append([]string(nil), values...), nil
	}
	return s.parseString(values[len(values)-1])
}

// parseString parses one command-line value.
func (s *setting) parseString(v string) (any, error) {
	switch s.kind {
	case kindString:
		return v, nil
	case kindInt:
		n, err := parseDecimal(v, strconv.IntSize)
		return int(n), err
	case kindInt64:
		return parseDecimal(v, 64)
	case kindMask:
		return parseMask(v)
	case kindBool:
		if b, ok := s.modes[strings.ToLower(strings.TrimSpace(v))]; ok {
			return b, nil
		}
		b, err := parseBool(v)
		if err != nil && s.modes != nil {
			err = fmt.Errorf("%q is not one of %s", v, strings.Join(slices.Sorted(maps.Keys(s.modes)), ", "))
		}
		return b, err
	case kindSeconds:
		return parseSeconds(v)
	case kindList:
		if v == "" {
			return []string{}, nil
		}
		return []string{v}, nil
	case kindCSV:
		return splitCSV(v), nil
	case kindJSON:
		return parseJSONObject(v)
	}
	panic(fmt.Sprintf("config: setting %s has unknown kind %d", s.name, s.kind))
}

// parseTOML converts a value decoded by BurntSushi/toml (string, int64,
// bool, []any, ...) to the field's Go type.
func (s *setting) parseTOML(v any) (any, error) {
	switch s.kind {
	case kindString:
		if str, ok := v.(string); ok {
			return str, nil
		}
		if n, ok := v.(int64); ok && s.intOK {
			return strconv.FormatInt(n, 10), nil
		}
		return nil, wrongType("a string", v)
	case kindInt:
		if n, ok := v.(int64); ok && int64(int(n)) == n {
			return int(n), nil
		}
		return nil, wrongType("an integer", v)
	case kindInt64:
		if n, ok := v.(int64); ok {
			return n, nil
		}
		return nil, wrongType("an integer", v)
	case kindMask:
		return maskFromTOML(v)
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if str, ok := v.(string); ok && s.modes != nil {
			return s.parseString(str)
		}
		return nil, wrongType("true or false", v)
	case kindSeconds:
		return secondsFromTOML(v)
	case kindList, kindCSV:
		return listFromTOML(s, v)
	case kindJSON:
		if str, ok := v.(string); ok {
			return parseJSONObject(str)
		}
		if m, ok := v.(map[string]any); ok {
			return compactJSON(m)
		}
		return nil, wrongType("a table", v)
	}
	panic(fmt.Sprintf("config: setting %s has unknown kind %d", s.name, s.kind))
}

func maskFromTOML(v any) (any, error) {
	switch v := v.(type) {
	case int64:
		if v < 0 || v > 0o777 {
			return nil, fmt.Errorf("umask %O is outside 0 to 0o777", v)
		}
		return int(v), nil
	case string:
		return parseMask(v)
	}
	return nil, wrongType("an integer such as 0o022", v)
}

func secondsFromTOML(v any) (any, error) {
	switch v := v.(type) {
	case int64:
		return secondsToDuration(v, strconv.FormatInt(v, 10))
	case string:
		return parseSeconds(v)
	}
	return nil, wrongType(`whole seconds or a duration string such as "1.5s"`, v)
}

// listFromTOML accepts an array of strings or, like Gunicorn's config
// file, a single string: one item for a repeatable flag, a
// comma-separated list otherwise.
func listFromTOML(s *setting, v any) (any, error) {
	switch v := v.(type) {
	case string:
		return s.parseString(v)
	case []any:
		items := make([]string, 0, len(v))
		for i, item := range v {
			str, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("item %d: %w", i, wrongType("a string", item))
			}
			items = append(items, str)
		}
		return items, nil
	}
	return nil, wrongType("an array of strings", v)
}

func wrongType(want string, got any) error {
	return fmt.Errorf("want %s, got %s", want, tomlTypeName(got))
}

func tomlTypeName(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

const maxDuration = time.Duration(1<<63 - 1)

// parseDecimal parses an optionally signed decimal integer, allowing
// surrounding spaces as Python's int() does ("4", " 4 ", "-1").
func parseDecimal(v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v)
	}
	return n, nil
}

// parseMask parses a umask the way Gunicorn does: "18", "0o22", "0x12",
// or "022" (a leading zero means octal).
func parseMask(v string) (int, error) {
	t := strings.TrimSpace(v)
	if len(t) > 1 && t[0] == '0' && t[1] >= '0' && t[1] <= '9' {
		t = "0o" + t[1:]
	}
	n, err := strconv.ParseInt(t, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number (examples: 0o022, 022, 18)", v)
	}
	if n < 0 || n > 0o777 {
		return 0, fmt.Errorf("umask %q is outside 0 to 0o777", v)
	}
	return int(n), nil
}

// parseBool accepts "" (the flag given alone) and true/false in any case.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// parseSeconds accepts whole seconds ("30", Gunicorn's syntax) or a Go
// duration ("1m30s", "500ms").
func parseSeconds(v string) (time.Duration, error) {
	t := strings.TrimSpace(v)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return secondsToDuration(n, v)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is neither whole seconds nor a duration such as 1.5s", v)
	}
	return d, nil
}

// secondsToDuration converts n seconds, written as v, without overflow;
// validators reject negative durations with a clearer message.
func secondsToDuration(n int64, v string) (time.Duration, error) {
	if limit := int64(maxDuration / time.Second); n > limit || n < -limit {
		return 0, fmt.Errorf("%q seconds is out of range", v)
	}
	return time.Duration(n) * time.Second, nil
}

// splitCSV splits a comma-separated list, trimming spaces around items
// and dropping empty ones: "a, b,,c" -> [a b c].
func splitCSV(v string) []string {
	items := []string{}
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// store sets the Config field behind ptr to v, which has the field's type.
func store(ptr, v any) {
	switch p := ptr.(type) {
	case *string:
		*p = v.(string)
	case *int:
		*p = v.(int)
	case *int64:
		*p = v.(int64)
	case *bool:
		*p = v.(bool)
	case *time.Duration:
		*p = v.(time.Duration)
	case *[]string:
		*p = v.([]string)
	default:
		panic(fmt.Sprintf("config: unsupported field type %T", ptr))
	}
}
