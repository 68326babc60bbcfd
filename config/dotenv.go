package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Uvicorn's --env-file: the variables of a .env file, read by the master
// as Uvicorn reads it (python-dotenv's load_dotenv, whose format and
// defaults are followed here: no override, ${VAR} interpolation), are
// set in every worker (and the hook host) before Python starts, where
// the environment does not already set them; -e KEY=VALUE still wins.
var dotenvSettings = []*setting{
	{
		name: "env_file", flags: []string{"env-file"}, kind: kindString, def: "",
		help:  "set the variables of the .env `FILE` in the workers where the environment does not already set them (Uvicorn's --env-file, read as python-dotenv reads it)",
		field: func(c *Config) any { return &c.EnvFile },
	},
}

// applyEnvFile reads c.EnvFile into c.EnvFileVars. A relative path is
// taken from --chdir, else the working directory. getenv is the master's
// environment, for ${VAR}; an empty variable counts as unset there.
// Statements python-dotenv would skip are skipped with a notice.
func applyEnvFile(c *Config, getenv func(string) string) error {
	if c.EnvFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.inChdir(c.EnvFile))
	if err != nil {
		return &Error{Name: "--env-file", Err: fmt.Errorf("%q: %w", c.EnvFile, pathless(err))}
	}
	if !utf8.Valid(data) { // python-dotenv reads it as UTF-8, and fails
		return &Error{Name: "--env-file", Err: fmt.Errorf("%s: not UTF-8 text", c.EnvFile)}
	}
	bindings, bad := parseDotenv(string(data))
	for _, line := range bad {
		c.Notices = append(c.Notices, fmt.Sprintf("--env-file %s: line %d: not a KEY=VALUE statement python-dotenv can read; skipped, as it does", c.EnvFile, line))
	}
	c.EnvFileVars = nil
	for _, b := range resolveDotenv(bindings, getenv) {
		if strings.ContainsAny(b.key, "=\x00") || strings.ContainsRune(b.value, 0) {
			return &Error{Name: "--env-file", Err: fmt.Errorf("%s: line %d: %q=%q cannot be an environment variable", c.EnvFile, b.line, b.key, b.value)}
		}
		if b.hasValue {
			c.EnvFileVars = append(c.EnvFileVars, b.key+"="+b.value)
		}
	}
	return nil
}

// EnvFromFile is what --env-file adds to an environment in which lookup
// finds the variables already set: the file's KEY=VALUE items for the
// others (load_dotenv's override=False).
func (c *Config) EnvFromFile(lookup func(string) (string, bool)) []string {
	var add []string
	for _, kv := range c.EnvFileVars {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := lookup(k); !set {
			add = append(add, kv)
		}
	}
	return add
}

// dotenvBinding is one KEY=VALUE statement of a .env file; hasValue is
// false for a KEY alone (python-dotenv's None: it sets nothing). line is
// where the statement starts.
type dotenvBinding struct {
	key, value string
	hasValue   bool
	line       int
}

// dotenvSpace is Python's str.isspace, which python-dotenv's \s means:
// Go's unicode.IsSpace and the separators U+001C to U+001F.
func dotenvSpace(r rune) bool { return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f }

// dotenvHSpace is whitespace but for line ends ([^\S\r\n]).
func dotenvHSpace(r rune) bool { return r != '\r' && r != '\n' && dotenvSpace(r) }

// dotenvReader walks a .env file as python-dotenv 0.21's parser does
// (dotenv/parser.py), a port of its regular expressions.
type dotenvReader struct {
	s   []rune
	pos int
	// lineAt and lineNo: the line of lineAt, where line last counted to
	lineAt, lineNo int
}

var errDotenv = errors.New("not a statement")

func (r *dotenvReader) peek() rune {
	if r.pos < len(r.s) {
		return r.s[r.pos]
	}
	return -1
}

func (r *dotenvReader) skip(class func(rune) bool) {
	for r.pos < len(r.s) && class(r.s[r.pos]) {
		r.pos++
	}
}

// line is the 1-based line of pos, which is never before the pos of
// the call before; \r\n, \n and \r each end one.
func (r *dotenvReader) line(pos int) int {
	for ; r.lineAt < pos; r.lineAt++ {
		if c := r.s[r.lineAt]; c == '\n' || c == '\r' && (r.lineAt+1 >= len(r.s) || r.s[r.lineAt+1] != '\n') {
			r.lineNo++
		}
	}
	return r.lineNo
}

// parseDotenv returns the file's statements with a key, in order, and
// the lines of those it could not read (python-dotenv warns and skips
// them, up to the end of their line).
func parseDotenv(text string) (bindings []dotenvBinding, bad []int) {
	r := &dotenvReader{s: []rune(text), lineNo: 1}
	for {
		r.skip(dotenvSpace)
		if r.pos >= len(r.s) {
			return bindings, bad
		}
		start := r.pos
		b, err := r.statement()
		if err != nil {
			bad = append(bad, r.line(start))
			// the rest of the line: [^\r\n]*(?:\r|\n|\r\n)?
			for r.pos < len(r.s) && r.s[r.pos] != '\r' && r.s[r.pos] != '\n' {
				r.pos++
			}
			if r.pos < len(r.s) {
				r.pos++
			}
			continue
		}
		if b.key != "" {
			b.line = r.line(start)
			bindings = append(bindings, b)
		}
	}
}

// statement reads one: [export ]KEY[ = VALUE][ # comment] and the line
// end. A comment line gives an empty key.
func (r *dotenvReader) statement() (dotenvBinding, error) {
	var b dotenvBinding
	if r.pos+6 < len(r.s) && string(r.s[r.pos:r.pos+6]) == "export" && dotenvHSpace(r.s[r.pos+6]) {
		r.pos += 6
		r.skip(dotenvHSpace)
	}
	switch r.peek() {
	case '#':
	case '\'': // '([^']+)'
		end := r.pos + 1
		for end < len(r.s) && r.s[end] != '\'' {
			end++
		}
		if end >= len(r.s) || end == r.pos+1 {
			return b, errDotenv
		}
		b.key = string(r.s[r.pos+1 : end])
		r.pos = end + 1
	default: // [^=\#\s]+
		start := r.pos
		for r.pos < len(r.s) && r.s[r.pos] != '=' && r.s[r.pos] != '#' && !dotenvSpace(r.s[r.pos]) {
			r.pos++
		}
		if r.pos == start {
			return b, errDotenv
		}
		b.key = string(r.s[start:r.pos])
	}
	r.skip(dotenvHSpace)
	if r.peek() == '=' {
		r.pos++
		r.skip(dotenvHSpace)
		v, err := r.value()
		if err != nil {
			return b, err
		}
		b.value, b.hasValue = v, true
	}
	// (?:[^\S\r\n]*#[^\r\n]*)? then [^\S\r\n]*(?:\r\n|\n|\r|$)
	save := r.pos
	r.skip(dotenvHSpace)
	if r.peek() == '#' {
		for r.pos < len(r.s) && r.s[r.pos] != '\r' && r.s[r.pos] != '\n' {
			r.pos++
		}
	} else {
		r.pos = save
		r.skip(dotenvHSpace)
	}
	switch r.peek() {
	case -1:
	case '\r':
		r.pos++
		if r.peek() == '\n' {
			r.pos++
		}
	case '\n':
		r.pos++
	default:
		return b, errDotenv
	}
	return b, nil
}

// value reads what follows "=": quoted (which may span lines) or the
// rest of the line less a " #" comment.
func (r *dotenvReader) value() (string, error) {
	switch q := r.peek(); q {
	case '\'', '"':
		end, ok := r.closingQuote(q)
		if !ok {
			return "", errDotenv
		}
		raw := r.s[r.pos+1 : end]
		r.pos = end + 1
		return dotenvUnescape(raw, q), nil
	case -1, '\n', '\r':
		return "", nil
	}
	start := r.pos
	for r.pos < len(r.s) && r.s[r.pos] != '\r' && r.s[r.pos] != '\n' {
		r.pos++
	}
	v := r.s[start:r.pos]
	// re.sub(r"\s+#.*", "", v): from the first run of spaces before a #.
	for i := 0; i < len(v); i++ {
		if !dotenvSpace(v[i]) {
			continue
		}
		j := i
		for j < len(v) && dotenvSpace(v[j]) {
			j++
		}
		if j < len(v) && v[j] == '#' {
			v = v[:i]
			break
		}
		i = j - 1
	}
	return strings.TrimRightFunc(string(v), dotenvSpace), nil
}

// closingQuote finds the end of a value quoted with q as the regular
// expression q((?:\\q|[^q])*)q matches it, backtracking included: the
// first unescaped q, else (no such q before the end) the q of the last
// \q, its backslash then being part of the value.
func (r *dotenvReader) closingQuote(q rune) (int, bool) {
	lastEscaped := -1
	for i := r.pos + 1; i < len(r.s); i++ {
		switch {
		case r.s[i] == '\\' && i+1 < len(r.s) && r.s[i+1] == q:
			lastEscaped = i + 1
			i++
		case r.s[i] == q:
			return i, true
		}
	}
	return lastEscaped, lastEscaped >= 0
}

// dotenvUnescape decodes the escapes python-dotenv decodes: \\ and \'
// in single quotes, and \\ \' \" \a \b \f \n \r \t \v in double quotes.
func dotenvUnescape(raw []rune, q rune) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			c, ok := raw[i+1], false
			switch c {
			case '\\', '\'':
				ok = true
			case '"', 'a', 'b', 'f', 'n', 'r', 't', 'v':
				ok = q == '"'
			}
			if ok {
				b.WriteRune(dotenvEscaped(c))
				i++
				continue
			}
		}
		b.WriteRune(raw[i])
	}
	return b.String()
}

// dotenvEscaped is the character the escape \c stands for.
func dotenvEscaped(c rune) rune {
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	return c
}

// resolveDotenv expands ${NAME} and ${NAME:-DEFAULT} in every value, as
// python-dotenv's resolve_variables does for load_dotenv (override
// False): NAME is the environment's variable, else the value of an
// earlier statement of the file ("" for a KEY alone), else DEFAULT, else
// "". A key given twice keeps its first place and its last value.
func resolveDotenv(bs []dotenvBinding, getenv func(string) string) []dotenvBinding {
	var out []dotenvBinding
	at := map[string]int{}
	lookup := func(name string) (string, bool) {
		if v := getenv(name); v != "" {
			return v, true
		}
		if i, ok := at[name]; ok {
			return out[i].value, true
		}
		return "", false
	}
	for _, b := range bs {
		if b.hasValue {
			b.value = expandDotenv(b.value, lookup)
		}
		if i, ok := at[b.key]; ok {
			out[i] = b
		} else {
			at[b.key] = len(out)
			out = append(out, b)
		}
	}
	return out
}

// expandDotenv replaces each match of \$\{([^}:]*)(?::-([^}]*))?\} in v.
func expandDotenv(v string, lookup func(string) (string, bool)) string {
	if !strings.Contains(v, "${") {
		return v
	}
	s := []rune(v)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) || s[i+1] != '{' {
			b.WriteRune(s[i])
			continue
		}
		j := i + 2
		for j < len(s) && s[j] != '}' && s[j] != ':' {
			j++
		}
		name, def, end := string(s[i+2:j]), "", -1
		if j+1 < len(s) && s[j] == ':' && s[j+1] == '-' {
			k := j + 2
			for k < len(s) && s[k] != '}' {
				k++
			}
			if k < len(s) {
				def, end = string(s[j+2:k]), k
			}
		} else if j < len(s) && s[j] == '}' {
			end = j
		}
		if end < 0 {
			b.WriteRune(s[i])
			continue
		}
		if got, ok := lookup(name); ok {
			def = got
		}
		b.WriteString(def)
		i = end
	}
	return b.String()
}
