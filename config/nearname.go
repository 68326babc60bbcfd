package config

import "strings"

// likelySetting returns the setting a config file's name was probably
// meant to be ("" for none): one whose flag it spells (log_file for
// --log-file, preload for --preload), or whose name it misses by a
// letter or two (worker, max_request). A config file's other names are
// its own helpers (host, port, use_loglevel in a widely copied
// template), which Gunicorn ignores without a word.
func likelySetting(name string) string {
	tables := [][]*setting{settings, ignored, switches}
	for _, table := range tables {
		for _, s := range table {
			for _, f := range s.flags {
				if strings.ReplaceAll(f, "-", "_") == name {
					return s.name
				}
			}
		}
	}
	if len(name) < 5 {
		return ""
	}
	for _, table := range tables {
		for _, s := range table {
			if editDistance(name, s.name) <= 2 {
				return s.name
			}
		}
	}
	return ""
}

// nearFlag returns the long flag a mistyped one was probably meant to
// be, "" for none: the first, in name order, that it misses by a letter
// or two (--wokers, --max-request), for a name long enough to tell.
func (ix *flagIndex) nearFlag(name string) string {
	if len(name) < 5 {
		return ""
	}
	for _, n := range ix.names {
		if editDistance(name, n) <= 2 {
			return n
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
