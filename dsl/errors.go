package dsl

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a source file. Line and Column start at 1.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Source records where each property of a document was written.
type Source struct {
	File string
	// pos holds where each property's name was written, vpos where its
	// value starts.
	pos  map[string]Pos
	vpos map[string]Pos
}

// ValuePos returns where the value at path starts, falling back to Pos.
func (s *Source) ValuePos(path string) Pos {
	if s == nil {
		return Pos{}
	}
	if p, ok := s.vpos[path]; ok {
		return p
	}
	return s.Pos(path)
}

// Pos returns the position of the property at the JSON Pointer path, or of
// its closest written ancestor.
func (s *Source) Pos(path string) Pos {
	if s == nil {
		return Pos{}
	}
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		i := strings.LastIndexByte(path, '/')
		if i < 0 {
			return Pos{Line: 1, Column: 1}
		}
		path = path[:i]
	}
}

// Error is one problem found in a definition.
type Error struct {
	File string `json:"file"`
	Pos
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = "<input>"
	}
	where := ""
	if e.Path != "" {
		where = " (at " + e.Path + ")"
	}
	return fmt.Sprintf("%s:%d:%d: %s%s", file, e.Line, e.Column, e.Message, where)
}

// Errors is every problem found in a definition, in source order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// covers reports whether an error was found at path or around it.
func (es Errors) covers(path string) bool {
	for _, e := range es {
		if e.Path == path || strings.HasPrefix(path, e.Path+"/") || strings.HasPrefix(e.Path, path+"/") {
			return true
		}
	}
	return false
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}

// Suggest returns the candidate closest to word when it is close enough to
// be a likely typo, or "": the "did you mean" of storeflow's messages.
func Suggest(word string, candidates []string) string { return suggest(word, candidates) }

// suggest returns the candidate closest to word when it is close enough to be
// a likely typo.
func suggest(word string, candidates []string) string {
	best, bestDist, bestPrefix := "", len(word)/2+2, -1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(lw, lc)
		prefix := commonPrefix(lw, lc)
		// Ties go to the candidate sharing the longer prefix: "secs" means
		// "seconds" more likely than "days".
		if d < bestDist || d == bestDist && prefix > bestPrefix && best != "" {
			best, bestDist, bestPrefix = c, d, prefix
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// editDistance is the Damerau–Levenshtein (optimal string alignment) distance,
// so that transpositions such as "tiemout" count as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// pointerToken escapes one JSON Pointer reference token.
func pointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
