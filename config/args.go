package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Gunicorn parses its command line with Python's argparse; urfave/cli
// (Go's flag package underneath) differs in ways real command lines
// depend on. scanArgs reads argv with argparse's rules and returns it as
// flag uses that canonicalArgs writes in the one form Go's flag package
// reads unambiguously ("--name=value ... -- positionals").
//
// argparse rules kept here:
//   - options and positionals mix: "app:app --timeout 120" (Procfiles do this);
//   - "-w4", "-w=4", "-w 4", "--workers=4" and "--workers 4" are the same;
//   - a unique prefix of a long flag is that flag: "--max-requests-j 5";
//     an exact name wins over longer ones ("--reload", not "--reload-engine");
//   - a value may not look like a flag ("--bind --foo" is an error), except
//     "-" and negative numbers ("--log-file -", "-w -1");
//   - one-letter switches combine: "-vw4" is "-v -w4";
//   - "--" ends the flags;
//   - values are never split on commas ("-e KEY=a,b").

// flagUse is one occurrence of a flag.
type flagUse struct {
	s       *setting
	written string // flag as reported in errors: "-w" or "--workers"
	value   string // "" for a switch given without value
}

// scannedArgs is one argument list (the command line, or one *_CMD_ARGS
// variable) split into flag uses and positional arguments.
type scannedArgs struct {
	uses        []flagUse
	positionals []string
	// notMode is a positional that came right after a flag taking an
	// optional mode (--proxy-protocol v3) and is none of its modes: the
	// likelier mistake when a second positional follows.
	notMode string
}

// flagIndex resolves flag names: long names include every setting,
// switch and unsupported Gunicorn flag, so prefixes are as ambiguous as
// they are for Gunicorn.
type flagIndex struct {
	long  map[string]*setting // nil value: an unsupported Gunicorn flag
	short map[string]*setting
	names []string // sorted keys of long
	// uvicornHost and uvicornPort are UVICORN_HOST and UVICORN_PORT,
	// which stand for --host and --port where a source gives only the
	// other (uvicornenv.go), as under Uvicorn.
	uvicornHost, uvicornPort string
}

func newFlagIndex() *flagIndex {
	ix := &flagIndex{long: map[string]*setting{}, short: map[string]*setting{}}
	for _, table := range [][]*setting{settings, switches, ignored, uvicornFlags, uvicornIgnored, negations} {
		for _, s := range table {
			for _, f := range s.flags {
				ix.long[f] = s
			}
			if s.short != "" {
				ix.short[s.short] = s
			}
		}
	}
	for _, u := range unsupported {
		for _, f := range u.flags {
			ix.long[f] = nil
		}
	}
	for name := range ix.long {
		ix.names = append(ix.names, name)
	}
	sort.Strings(ix.names)
	return ix
}

// resolveLong finds the setting for a long flag name or unique prefix.
// A unique prefix of one of Gunicorn's own flags (gunicornFlags) means
// that flag even where gowsgi's and Uvicorn's flags share the prefix:
// --time is --timeout, as for Gunicorn, not ambiguous with Uvicorn's
// --timeout-keep-alive.
func (ix *flagIndex) resolveLong(name string) (*setting, string, error) {
	if full, ok := uniqueGunicornPrefix(name); ok {
		return ix.long[full], full, nil
	}
	if s, ok := ix.long[name]; ok {
		return s, name, nil
	}
	var matches []string
	for _, n := range ix.names {
		if strings.HasPrefix(n, name) {
			matches = append(matches, n)
		}
	}
	if len(matches) == 0 {
		if near := ix.nearFlag(name); near != "" {
			return nil, "", fmt.Errorf("--%s: unknown flag; did you mean --%s? (see --help)", name, near)
		}
		return nil, "", fmt.Errorf("--%s: unknown flag (see --help)", name)
	}
	// Aliases of one setting (--limit-request-field_size and
	// --limit-request-field-size) do not make a prefix ambiguous.
	first := ix.long[matches[0]]
	for _, m := range matches[1:] {
		if s := ix.long[m]; s != first || s == nil {
			return nil, "", fmt.Errorf("--%s: ambiguous flag, could be --%s", name, strings.Join(matches, ", --"))
		}
	}
	return first, matches[0], nil
}

// negations are flags that turn a boolean setting off: Gunicorn's
// --no-sendfile, Uvicorn's --no-proxy-headers.
var negations = []*setting{
	{name: "no_sendfile", flags: []string{"no-sendfile"}, kind: kindBool, negation: "sendfile"},
	{name: "no_proxy_headers", flags: []string{"no-proxy-headers"}, kind: kindBool, negation: "proxy_headers"},
}

// takeNegations turns each use of a negation into a use of the setting
// it negates: --no-sendfile is --sendfile=false.
func takeNegations(uses []flagUse) {
	for i, u := range uses {
		if u.s.negation != "" {
			uses[i] = flagUse{s: settingNamed(u.s.negation), written: u.written, value: strconv.FormatBool(u.value == "false")}
		}
	}
}

// unsupportedFlagError explains a Gunicorn flag gowsgi does not implement.
func unsupportedFlagError(written, long string) error {
	for _, u := range unsupported {
		for _, f := range u.flags {
			if f == long {
				return fmt.Errorf("%s: Gunicorn's flag is not supported by gowsgi: %s", written, u.reason)
			}
		}
	}
	return fmt.Errorf("%s: Gunicorn's flag is not supported by gowsgi", written)
}

// negativeNumber is argparse's test for an argument that is a value even
// though it starts with "-".
var negativeNumber = regexp.MustCompile(`^-\d+$|^-\d*\.\d+$`)

func looksLikeFlag(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && !negativeNumber.MatchString(arg)
}

// scanArgs splits args (without argv[0]) into flag uses and positionals.
func (ix *flagIndex) scanArgs(args []string) (scannedArgs, error) {
	var out scannedArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		var (
			uses []flagUse
			used int
			err  error
		)
		switch {
		case arg == "--":
			out.positionals = append(out.positionals, args[i+1:]...)
			return out, nil
		case strings.HasPrefix(arg, "--"):
			uses, used, err = ix.scanLong(arg, args[i+1:])
		case looksLikeFlag(arg):
			uses, used, err = ix.scanShort(arg, args[i+1:])
		default:
			out.positionals = append(out.positionals, arg)
			continue
		}
		if err != nil {
			return scannedArgs{}, err
		}
		out.uses = append(out.uses, uses...)
		i += used
		if last := len(uses) - 1; last >= 0 && used == 0 && uses[last].s.modes != nil && !strings.Contains(arg, "=") &&
			i+1 < len(args) && !looksLikeFlag(args[i+1]) && out.notMode == "" {
			out.notMode = fmt.Sprintf("%q after %s is not one of its modes (%s)", args[i+1], uses[last].written,
				strings.Join(slices.Sorted(maps.Keys(uses[last].s.modes)), ", "))
		}
	}
	return out, nil
}

// scanLong reads "--name", "--name=value" or "--name value"; it returns
// how many of the following arguments it consumed.
func (ix *flagIndex) scanLong(arg string, rest []string) ([]flagUse, int, error) {
	name, value, hasValue := strings.Cut(arg[2:], "=")
	s, full, err := ix.resolveLong(name)
	if err != nil {
		return nil, 0, err
	}
	written := "--" + full
	if s == nil {
		return nil, 0, unsupportedFlagError(written, full)
	}
	if hasValue && !s.takesValue() {
		b, err := s.parseString(value)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", written, err)
		}
		value = fmt.Sprint(b)
	}
	if !hasValue && len(rest) > 0 && s.modes != nil {
		if b, ok := s.modes[strings.ToLower(rest[0])]; ok { // --proxy-protocol v2
			return []flagUse{{s: s, written: written, value: strconv.FormatBool(b)}}, 1, nil
		}
	}
	if hasValue || !s.takesValue() {
		return []flagUse{{s: s, written: written, value: value}}, 0, nil
	}
	if len(rest) == 0 || looksLikeFlag(rest[0]) || rest[0] == "--" {
		return nil, 0, fmt.Errorf("%s: needs a value (%s)", written, s.placeholder())
	}
	return []flagUse{{s: s, written: written, value: rest[0]}}, 1, nil
}

// scanShort reads "-w4", "-w=4", "-w 4" and clusters such as "-vw4".
func (ix *flagIndex) scanShort(arg string, rest []string) ([]flagUse, int, error) {
	var uses []flagUse
	cluster := arg[1:]
	for cluster != "" {
		letter := cluster[:1]
		cluster = cluster[1:]
		written := "-" + letter
		s, ok := ix.short[letter]
		if !ok {
			if long, ok := unsupportedShortFlags[letter]; ok {
				return nil, 0, unsupportedFlagError(written, long)
			}
			return nil, 0, fmt.Errorf("%s: unknown flag (see --help)", written)
		}
		if !s.takesValue() {
			uses = append(uses, flagUse{s: s, written: written})
			continue
		}
		if cluster != "" {
			return append(uses, flagUse{s: s, written: written, value: strings.TrimPrefix(cluster, "=")}), 0, nil
		}
		if len(rest) == 0 || looksLikeFlag(rest[0]) || rest[0] == "--" {
			return nil, 0, fmt.Errorf("%s: needs a value (%s)", written, s.placeholder())
		}
		return append(uses, flagUse{s: s, written: written, value: rest[0]}), 1, nil
	}
	return uses, 0, nil
}

// unsupportedShortFlags maps Gunicorn's one-letter flags that gowsgi does
// not implement to their long names.
var unsupportedShortFlags = func() map[string]string {
	m := map[string]string{}
	for _, u := range unsupported {
		if u.short != "" {
			m[u.short] = u.flags[0]
		}
	}
	return m
}()

// canonicalArgs writes scanned arguments in the form Go's flag package
// parses without surprises: every flag by its first long name with "=",
// then "--" and the positionals.
func canonicalArgs(sc scannedArgs) []string {
	out := make([]string, 0, len(sc.uses)+len(sc.positionals)+1)
	for _, u := range sc.uses {
		name := "--" + u.s.flags[0]
		if u.s.takesValue() || u.value != "" {
			name += "=" + u.value
		}
		out = append(out, name)
	}
	out = append(out, "--")
	return append(out, sc.positionals...)
}

var (
	errUnterminatedQuote = errors.New("unterminated quote")
	errTrailingBackslash = errors.New("backslash at the end")
)

// shellSplit splits a *_CMD_ARGS value into words exactly like Python's
// shlex.split, which Gunicorn uses: whitespace separates words; single
// quotes keep everything literally; inside double quotes only \" and \\
// are escapes; outside quotes a backslash takes the next character
// literally.
//
//	`-w 4 --env 'A=b c'` -> [-w 4 --env A=b c]
func shellSplit(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
			continue
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errUnterminatedQuote
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			n, err := readDoubleQuoted(s[i+1:], &word)
			if err != nil {
				return nil, err
			}
			i += n + 1
		case c == '\\':
			if i+1 == len(s) {
				return nil, errTrailingBackslash
			}
			i++
			word.WriteByte(s[i])
		default:
			word.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// readDoubleQuoted copies the body of a double-quoted string (s starts
// after the opening quote) into w and returns the index of the closing
// quote.
func readDoubleQuoted(s string, w *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i, nil
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			w.WriteByte(s[i])
		default:
			w.WriteByte(c)
		}
	}
	return 0, errUnterminatedQuote
}

// uniqueGunicornPrefix returns the one Gunicorn flag that is, or begins
// with, name.
func uniqueGunicornPrefix(name string) (string, bool) {
	i, _ := slices.BinarySearch(gunicornFlags, name)
	if i == len(gunicornFlags) || !strings.HasPrefix(gunicornFlags[i], name) {
		return "", false
	}
	if gunicornFlags[i] == name {
		return name, true
	}
	if i+1 < len(gunicornFlags) && strings.HasPrefix(gunicornFlags[i+1], name) {
		return "", false
	}
	return gunicornFlags[i], true
}
