package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/semver"
	yaml "go.yaml.in/yaml/v3"
)

// MaxDocumentSize bounds the definitions we accept, so that a hostile upload
// cannot exhaust memory while decoding.
const MaxDocumentSize = 4 << 20

// Options change how a definition loads.
type Options struct {
	// Builtins is the runtime's default catalog. With it, a call of one of
	// its functions (bare NAME, or NAME:VERSION@default) validates and its
	// literal arguments are checked against the function's schema, and a
	// call of an unknown one is an error with a suggestion. Without it, a
	// bare name no workflow function defines is an error and
	// NAME:VERSION@default is accepted unchecked.
	Builtins Builtins
}

// LoadFile reads, decodes and validates a workflow definition file.
func LoadFile(path string) (*Workflow, error) { return LoadFileWith(path, Options{}) }

// LoadFileWith is LoadFile with options.
func LoadFileWith(path string, opts Options) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return LoadWith(path, data, opts)
}

// Load decodes and validates a workflow definition. file names the source in
// error messages. The error, if any, is of type Errors.
func Load(file string, data []byte) (*Workflow, error) { return LoadWith(file, data, Options{}) }

// LoadWith is Load with options.
func LoadWith(file string, data []byte, opts Options) (*Workflow, error) {
	wf, errs := decode(file, data)
	if wf == nil {
		return nil, errs
	}
	// Validate the parts that decoded, so that one run reports every error;
	// findings inside a part that failed to decode would only repeat it.
	if err := ValidateWith(wf, opts); err != nil {
		for _, e := range err.(Errors) {
			if !errs.covers(e.Path) {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return wf, nil
}

// Decode parses a YAML or JSON document into the model without the semantic
// checks of Validate. The error, if any, is of type Errors.
func Decode(file string, data []byte) (*Workflow, error) {
	wf, errs := decode(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return wf, nil
}

// decode returns the workflow as far as it decoded (nil when the text is not
// a YAML document) and the errors found.
func decode(file string, data []byte) (*Workflow, Errors) {
	if len(data) > MaxDocumentSize {
		return nil, Errors{{File: file, Pos: Pos{1, 1}, Message: fmt.Sprintf("document is %d bytes; the limit is %d", len(data), MaxDocumentSize)}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Errors{yamlError(file, data, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Pos: Pos{extra.Line, extra.Column}, Message: "the file holds more than one YAML document; put each workflow in its own file"}}
	}
	d := &decoder{src: &Source{File: file, pos: map[string]Pos{}, vpos: map[string]Pos{}}}
	n := &root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, Errors{{File: file, Pos: Pos{1, 1}, Message: "the document is empty; a workflow needs at least `document` and `do`"}}
		}
		n = n.Content[0]
	}
	wf := d.workflow(n)
	d.errs.sort()
	return wf, d.errs
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxSearchLines bounds the documents whose syntax errors are placed by
// parsing their leading lines (see syntaxLine); longer ones keep the line
// the YAML parser names.
const syntaxSearchLines = 2000

func yamlError(file string, data []byte, err error) *Error {
	msg := err.Error()
	e := &Error{File: file, Pos: Pos{1, 1}}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if line, col, ok := jsonSyntaxPos(data); ok {
		e.Line, e.Column = line, col
	} else if line, col, ok := syntaxLine(data, msg); ok {
		e.Line, e.Column = line, col
	}
	e.Message = "not valid YAML or JSON: " + msg
	return e
}

// syntaxLine finds the line a YAML syntax error is on. The parser names
// the line where the enclosing block or flow began (counted from 0), not
// the line it failed on, and no column; so the document is parsed cut
// after each line in turn, and the first cut that fails with the same
// problem ends on the line at fault. A cut that only ends a construct
// early fails with another problem ("did not find expected node
// content"), and is passed over. The column is that of the line's first
// character that is not blank.
func syntaxLine(data []byte, problem string) (line, col int, ok bool) {
	end := 0
	for n := 1; n <= syntaxSearchLines && end < len(data); n++ {
		next := bytes.IndexByte(data[end:], '\n')
		if next < 0 {
			end = len(data)
		} else {
			end += next + 1
		}
		var root yaml.Node
		err := yaml.NewDecoder(bytes.NewReader(data[:end])).Decode(&root)
		if err == nil {
			continue
		}
		got := err.Error()
		if m := yamlLineRe.FindStringSubmatch(got); m != nil {
			got = m[2]
		} else {
			got = strings.TrimPrefix(got, "yaml: ")
		}
		if got != problem {
			continue
		}
		start := bytes.LastIndexByte(data[:end-1], '\n') + 1
		text := strings.TrimRight(string(data[start:end]), "\r\n")
		// Only spaces indent in YAML: a tab is the fault itself.
		col = len(text) - len(strings.TrimLeft(text, " ")) + 1
		if col > len(text) {
			col = 1
		}
		return n, col, true
	}
	return 0, 0, false
}

// jsonSyntaxPos places a syntax error of a document written as JSON (it
// starts with "{" or "["), where encoding/json knows the exact offset.
func jsonSyntaxPos(data []byte) (line, col int, ok bool) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' && trimmed[0] != '[' {
		return 0, 0, false
	}
	var v any
	var syntax *json.SyntaxError
	if err := json.Unmarshal(data, &v); !errors.As(err, &syntax) {
		return 0, 0, false
	}
	// Offset counts the bytes read, the bad one included.
	at := min(max(int(syntax.Offset)-1, 0), len(data))
	line = bytes.Count(data[:at], []byte("\n")) + 1
	col = utf8.RuneCount(data[bytes.LastIndexByte(data[:at], '\n')+1:at]) + 1
	return line, col, true
}

type decoder struct {
	src  *Source
	errs Errors
	// visited counts nodes converted; aliases can make a small document
	// expand exponentially, so the count is bounded.
	visited  int
	depth    int
	exceeded bool
}

// Limits on what one document may expand to.
const (
	maxNodes = 1_000_000
	maxDepth = 200
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.src.File, Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Pos = Pos{n.Line, n.Column}
	} else {
		e.Pos = d.src.Pos(path)
	}
	d.errs = append(d.errs, e)
}

// enter counts a node against the document's limits.
func (d *decoder) enter(n *yaml.Node, path string) bool {
	d.visited++
	d.depth++
	if d.visited <= maxNodes && d.depth <= maxDepth {
		return true
	}
	d.depth--
	if !d.exceeded {
		d.exceeded = true
		d.errorf(n, path, "the document nests deeper than %d levels or expands (through YAML aliases) to more than %d values; simplify it", maxDepth, maxNodes)
	}
	return false
}

// mark records where the property at path was written: keys are marked
// before their values, so Pos points at the property name and ValuePos at
// its value.
func (d *decoder) mark(n *yaml.Node, path string) {
	if _, ok := d.src.pos[path]; !ok {
		d.src.pos[path] = Pos{n.Line, n.Column}
	}
}

func (d *decoder) markKey(k, v *yaml.Node, path string) {
	d.mark(k, path)
	if _, ok := d.src.vpos[path]; !ok {
		v = deref(v)
		d.src.vpos[path] = Pos{v.Line, v.Column}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "a value"
}

// value converts a node into a JSON-compatible value, recording positions.
func (d *decoder) value(n *yaml.Node, path string) any {
	n = deref(n)
	if !d.enter(n, path) {
		return nil
	}
	defer func() { d.depth-- }()
	d.mark(n, path)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				if merged, ok := d.value(n.Content[i+1], path).(map[string]any); ok {
					for mk, mv := range merged {
						if _, exists := m[mk]; !exists {
							m[mk] = mv
						}
					}
				}
				continue
			}
			cp := path + "/" + pointerToken(k.Value)
			d.markKey(k, n.Content[i+1], cp)
			m[k.Value] = d.value(n.Content[i+1], cp)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.value(c, path+"/"+strconv.Itoa(i))
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				if i >= math.MinInt && i <= math.MaxInt {
					return int(i)
				}
			}
			var f float64
			if err := n.Decode(&f); err == nil {
				return f
			}
			return n.Value
		case "!!float":
			var f float64
			if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f
			}
			d.errorf(n, path, "number %q cannot be represented in JSON", n.Value)
			return nil
		}
		return n.Value
	}
	return nil
}

// field decodes one property of an object.
type field struct {
	required bool
	decode   func(n *yaml.Node, path string)
}

type fields map[string]field

func req(f func(n *yaml.Node, path string)) field { return field{required: true, decode: f} }
func opt(f func(n *yaml.Node, path string)) field { return field{decode: f} }

// object decodes a mapping whose properties are all known. what names the
// object in messages ("task \"getPet\"").
func (d *decoder) object(n *yaml.Node, path, what string, fs fields) bool {
	n = deref(n)
	d.mark(n, path)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "%s must be an object, not %s", what, kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		name := k.Value
		p := path + "/" + pointerToken(name)
		d.markKey(k, v, p)
		if seen[name] {
			d.errorf(k, p, "property %q is written twice in %s", name, what)
			continue
		}
		seen[name] = true
		f, ok := fs[name]
		if !ok {
			d.unknown(k, p, what, name, fs)
			continue
		}
		if f.decode != nil {
			f.decode(v, p)
		}
	}
	var missing []string
	for name, f := range fs {
		if f.required && !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		d.errorf(nil, path, "%s is missing the required property %q", what, name)
	}
	return true
}

func (d *decoder) unknown(k *yaml.Node, path, what, name string, fs fields) {
	allowed := make([]string, 0, len(fs))
	for f := range fs {
		allowed = append(allowed, f)
	}
	sort.Strings(allowed)
	if s := suggest(name, allowed); s != "" {
		d.errorf(k, path, "unknown property %q in %s; did you mean %q?", name, what, s)
		return
	}
	d.errorf(k, path, "unknown property %q in %s; allowed properties are %s", name, what, quoteList(allowed))
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	n = deref(n)
	d.mark(n, path)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.errorf(n, path, "%s must be a string, not %s", lastToken(path), kindName(n))
		return
	}
	if n.ShortTag() != "!!str" {
		// Numbers and booleans written where a string is expected (version: 1.0)
		// are kept as their text; YAML authors rarely mean the difference.
		*dst = n.Value
		return
	}
	*dst = n.Value
}

func (d *decoder) strTo(dst *string) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) { d.str(n, path, dst) }
}

func (d *decoder) enum(dst *string, allowed ...string) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		var s string
		d.str(n, path, &s)
		for _, a := range allowed {
			if s == a {
				*dst = s
				return
			}
		}
		if s == "" && deref(n).Kind != yaml.ScalarNode {
			return
		}
		if sg := suggest(s, allowed); sg != "" {
			d.errorf(deref(n), path, "%s %q is not one of %s; did you mean %q?", lastToken(path), s, quoteList(allowed), sg)
			return
		}
		d.errorf(deref(n), path, "%s %q is not one of %s", lastToken(path), s, quoteList(allowed))
	}
}

func (d *decoder) boolTo(dst *bool) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		n = deref(n)
		d.mark(n, path)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.errorf(n, path, "%s must be true or false, not %s", lastToken(path), kindName(n))
			return
		}
		*dst = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
	}
}

func (d *decoder) intTo(dst *int) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		n = deref(n)
		d.mark(n, path)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.errorf(n, path, "%s must be a whole number, not %s", lastToken(path), kindName(n))
			return
		}
		i, err := strconv.Atoi(strings.ReplaceAll(n.Value, "_", ""))
		if err != nil {
			d.errorf(n, path, "%s %q is not a valid whole number", lastToken(path), n.Value)
			return
		}
		*dst = i
	}
}

func (d *decoder) strList(dst *[]string) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		n = deref(n)
		d.mark(n, path)
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "%s must be a list of strings, not %s", lastToken(path), kindName(n))
			return
		}
		for i, c := range n.Content {
			var s string
			d.str(c, path+"/"+strconv.Itoa(i), &s)
			*dst = append(*dst, s)
		}
	}
}

// mapOf decodes an object whose property names are chosen by the author.
func (d *decoder) mapOf(n *yaml.Node, path, what string, each func(name string, v *yaml.Node, path string)) {
	n = deref(n)
	d.mark(n, path)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "%s must be an object, not %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		p := path + "/" + pointerToken(k.Value)
		d.markKey(k, n.Content[i+1], p)
		if seen[k.Value] {
			d.errorf(k, p, "%q is defined twice in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		each(k.Value, n.Content[i+1], p)
	}
}

func (d *decoder) anyMap(dst *map[string]any) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		v := d.value(n, path)
		m, ok := v.(map[string]any)
		if !ok {
			d.errorf(deref(n), path, "%s must be an object, not %s", lastToken(path), kindName(deref(n)))
			return
		}
		*dst = m
	}
}

func (d *decoder) valueTo(dst **Value) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		*dst = &Value{Raw: d.value(n, path), Path: path}
		if (*dst).Raw == nil {
			// An explicit null still counts as written, for `with: ~` and the like.
			(*dst).Raw = nullValue{}
		}
	}
}

// nullValue marks a property written as null, which Value.Raw cannot hold as nil.
type nullValue struct{}

// Get returns the value with an explicit null as nil.
func (v *Value) Get() any {
	if v == nil {
		return nil
	}
	if _, ok := v.Raw.(nullValue); ok {
		return nil
	}
	return v.Raw
}

// stringValueTo decodes a value that must be a string (possibly an expression).
func (d *decoder) stringValueTo(dst **Value) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		var s string
		d.str(n, path, &s)
		*dst = &Value{Raw: s, Path: path}
	}
}

func (d *decoder) exprTo(dst **Expr) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		var s string
		d.str(n, path, &s)
		if strings.TrimSpace(s) == "" && deref(n).Kind == yaml.ScalarNode {
			d.errorf(deref(n), path, "%s is an empty expression", lastToken(path))
			return
		}
		*dst = &Expr{Src: s, Path: path}
	}
}

func lastToken(path string) string {
	i := strings.LastIndexByte(path, '/')
	tok := path[i+1:]
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}

// ---- workflow ----

func (d *decoder) workflow(n *yaml.Node) *Workflow {
	wf := &Workflow{Source: d.src, Evaluate: Evaluate{Language: "jq", Mode: "strict"}}
	raw, _ := d.value(n, "").(map[string]any)
	wf.Raw = raw
	d.object(n, "", "the workflow", fields{
		"document": req(func(n *yaml.Node, p string) { d.document(n, p, &wf.Document) }),
		"input":    opt(func(n *yaml.Node, p string) { wf.Input = d.input(n, p) }),
		"use":      opt(func(n *yaml.Node, p string) { wf.Use = d.use(n, p) }),
		"do":       req(func(n *yaml.Node, p string) { wf.Do = d.taskList(n, p) }),
		"timeout":  opt(func(n *yaml.Node, p string) { wf.Timeout = d.timeoutRef(n, p) }),
		"output":   opt(func(n *yaml.Node, p string) { wf.Output = d.output(n, p) }),
		"schedule": opt(func(n *yaml.Node, p string) { wf.Schedule = d.schedule(n, p) }),
		"evaluate": opt(func(n *yaml.Node, p string) {
			d.object(n, p, "evaluate", fields{
				"language": opt(d.enum(&wf.Evaluate.Language, "jq")),
				"mode":     opt(d.enum(&wf.Evaluate.Mode, "strict", "loose")),
			})
		}),
	})
	return wf
}

var (
	nameRe = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
)

// SupportedDSL lists the DSL versions this build runs.
var SupportedDSL = []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"}

func (d *decoder) document(n *yaml.Node, path string, doc *Document) {
	name := func(dst *string, what string) func(n *yaml.Node, p string) {
		return func(n *yaml.Node, p string) {
			d.str(n, p, dst)
			if *dst != "" && !nameRe.MatchString(*dst) {
				d.errorf(deref(n), p, "%s %q must be 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit", what, *dst)
			}
		}
	}
	d.object(n, path, "document", fields{
		"dsl": req(func(n *yaml.Node, p string) {
			d.str(n, p, &doc.DSL)
			if doc.DSL == "" {
				return
			}
			for _, v := range SupportedDSL {
				if doc.DSL == v {
					return
				}
			}
			d.errorf(deref(n), p, "DSL version %q is not supported; use one of %s (write it quoted, e.g. dsl: '1.0.3')", doc.DSL, quoteList(SupportedDSL))
		}),
		"namespace": req(name(&doc.Namespace, "namespace")),
		"name":      req(name(&doc.Name, "name")),
		"version": req(func(n *yaml.Node, p string) {
			d.str(n, p, &doc.Version)
			if doc.Version != "" && !semver.Valid(doc.Version) {
				d.errorf(deref(n), p, "version %q is not a semantic version such as '1.0.0' (write it quoted)", doc.Version)
			}
		}),
		"title":    opt(d.strTo(&doc.Title)),
		"summary":  opt(d.strTo(&doc.Summary)),
		"tags":     opt(d.anyMap(&doc.Tags)),
		"metadata": opt(d.anyMap(&doc.Metadata)),
	})
}

func (d *decoder) input(n *yaml.Node, path string) *Input {
	in := &Input{}
	d.object(n, path, "input", fields{
		"schema": opt(func(n *yaml.Node, p string) { in.Schema = d.schema(n, p) }),
		"from":   opt(d.objectOrString(&in.From)),
	})
	return in
}

func (d *decoder) output(n *yaml.Node, path string) *Output {
	out := &Output{}
	d.object(n, path, "output", fields{
		"schema": opt(func(n *yaml.Node, p string) { out.Schema = d.schema(n, p) }),
		"as":     opt(d.objectOrString(&out.As)),
	})
	return out
}

func (d *decoder) export(n *yaml.Node, path string) *Export {
	ex := &Export{}
	d.object(n, path, "export", fields{
		"schema": opt(func(n *yaml.Node, p string) { ex.Schema = d.schema(n, p) }),
		"as":     opt(d.objectOrString(&ex.As)),
	})
	return ex
}

func (d *decoder) objectOrString(dst **Value) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) {
		dn := deref(n)
		if !(dn.Kind == yaml.MappingNode || dn.Kind == yaml.ScalarNode && dn.ShortTag() == "!!str") {
			d.errorf(dn, path, "%s must be a runtime expression or an object, not %s", lastToken(path), kindName(dn))
			return
		}
		d.valueTo(dst)(n, path)
	}
}

func (d *decoder) schema(n *yaml.Node, path string) *Schema {
	s := &Schema{Format: "json", Path: path}
	d.object(n, path, "schema", fields{
		"format":   opt(d.strTo(&s.Format)),
		"document": opt(func(n *yaml.Node, p string) { s.Document = d.value(n, p) }),
		"resource": opt(func(n *yaml.Node, p string) { s.Resource = d.externalResource(n, p) }),
	})
	if (s.Document == nil) == (s.Resource == nil) {
		d.errorf(deref(n), path, "schema needs exactly one of \"document\" (an inline schema) or \"resource\" (a reference)")
	}
	return s
}

func (d *decoder) externalResource(n *yaml.Node, path string) *ExternalResource {
	r := &ExternalResource{}
	d.object(n, path, "external resource", fields{
		"name":     opt(d.strTo(&r.Name)),
		"endpoint": req(func(n *yaml.Node, p string) { d.endpoint(n, p, &r.Endpoint) }),
	})
	return r
}

func (d *decoder) endpoint(n *yaml.Node, path string, e *Endpoint) {
	e.Path = path
	dn := deref(n)
	if dn.Kind == yaml.ScalarNode {
		d.endpointURI(dn, path, e)
		return
	}
	d.object(n, path, "endpoint", fields{
		"uri":            req(func(n *yaml.Node, p string) { d.endpointURI(deref(n), p, e) }),
		"authentication": opt(func(n *yaml.Node, p string) { e.Authentication = d.authRef(n, p) }),
	})
}

func (d *decoder) endpointURI(n *yaml.Node, path string, e *Endpoint) {
	d.str(n, path, &e.URI)
	if strings.TrimSpace(e.URI) == "" {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, path, "endpoint URI is empty")
		}
		return
	}
	if isExprString(e.URI) {
		e.URIExpr = &Expr{Src: e.URI, Path: path}
	}
}

func isExprString(s string) bool {
	t := strings.TrimSpace(s)
	return strings.HasPrefix(t, "${") && strings.HasSuffix(t, "}")
}

func (d *decoder) authRef(n *yaml.Node, path string) *AuthRef {
	a := &AuthRef{Path: path}
	dn := deref(n)
	if dn.Kind == yaml.MappingNode && len(dn.Content) == 2 && deref(dn.Content[0]).Value == "use" {
		d.mark(dn, path)
		d.str(dn.Content[1], path+"/use", &a.Use)
		return a
	}
	a.Policy = d.authPolicy(n, path)
	return a
}

func (d *decoder) authPolicy(n *yaml.Node, path string) *AuthPolicy {
	p := &AuthPolicy{}
	count := 0
	basic := func(dst **BasicAuth, what string) func(n *yaml.Node, path string) {
		return func(n *yaml.Node, path string) {
			count++
			b := &BasicAuth{}
			*dst = b
			d.object(n, path, what+" authentication", fields{
				"use":      opt(d.strTo(&b.Use)),
				"username": opt(d.stringValueTo(&b.Username)),
				"password": opt(d.stringValueTo(&b.Password)),
			})
			if b.Use == "" && (b.Username == nil || b.Password == nil) {
				d.errorf(deref(n), path, "%s authentication needs \"username\" and \"password\", or \"use\" naming a secret", what)
			}
		}
	}
	oauth := func(dst **OAuth2Auth, what string) func(n *yaml.Node, path string) {
		return func(n *yaml.Node, path string) {
			count++
			o := &OAuth2Auth{ClientAuthentication: "client_secret_post", RequestEncoding: "application/x-www-form-urlencoded",
				TokenEndpoint: "/oauth2/token", RevocationEndpoint: "/oauth2/revoke", IntrospectionEndpoint: "/oauth2/introspect"}
			*dst = o
			token := func(dst **OAuth2Token) func(n *yaml.Node, p string) {
				return func(n *yaml.Node, p string) {
					t := &OAuth2Token{}
					*dst = t
					d.object(n, p, "token", fields{"token": req(d.strTo(&t.Token)), "type": req(d.strTo(&t.Type))})
				}
			}
			fs := fields{
				"use":       opt(d.strTo(&o.Use)),
				"authority": opt(d.stringValueTo(&o.Authority)),
				"grant":     opt(d.enum(&o.Grant, "authorization_code", "client_credentials", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange")),
				"client": opt(func(n *yaml.Node, p string) {
					d.object(n, p, "client", fields{
						"id":             opt(d.stringValueTo(&o.ClientID)),
						"secret":         opt(d.stringValueTo(&o.ClientSecret)),
						"assertion":      opt(d.strTo(&o.ClientAssertion)),
						"authentication": opt(d.enum(&o.ClientAuthentication, "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none")),
					})
				}),
				"request": opt(func(n *yaml.Node, p string) {
					d.object(n, p, "request", fields{"encoding": opt(d.enum(&o.RequestEncoding, "application/x-www-form-urlencoded", "application/json"))})
				}),
				"issuers":   opt(d.strList(&o.Issuers)),
				"scopes":    opt(d.strList(&o.Scopes)),
				"audiences": opt(d.strList(&o.Audiences)),
				"username":  opt(d.stringValueTo(&o.Username)),
				"password":  opt(d.stringValueTo(&o.Password)),
				"subject":   opt(token(&o.Subject)),
				"actor":     opt(token(&o.Actor)),
			}
			if what == "oauth2" {
				fs["endpoints"] = opt(func(n *yaml.Node, p string) {
					d.object(n, p, "endpoints", fields{
						"token":         opt(d.strTo(&o.TokenEndpoint)),
						"revocation":    opt(d.strTo(&o.RevocationEndpoint)),
						"introspection": opt(d.strTo(&o.IntrospectionEndpoint)),
					})
				})
			}
			d.object(n, path, what+" authentication", fs)
			if o.Use == "" && (o.Authority == nil || o.Grant == "") {
				d.errorf(deref(n), path, "%s authentication needs \"authority\" and \"grant\", or \"use\" naming a secret", what)
			}
		}
	}
	d.object(n, path, "authentication policy", fields{
		"basic": opt(basic(&p.Basic, "basic")),
		"bearer": opt(func(n *yaml.Node, path string) {
			count++
			b := &BearerAuth{}
			p.Bearer = b
			d.object(n, path, "bearer authentication", fields{"use": opt(d.strTo(&b.Use)), "token": opt(d.stringValueTo(&b.Token))})
			if b.Use == "" && b.Token == nil {
				d.errorf(deref(n), path, "bearer authentication needs \"token\", or \"use\" naming a secret")
			}
		}),
		"digest": opt(basic(&p.Digest, "digest")),
		"oauth2": opt(oauth(&p.OAuth2, "oauth2")),
		"oidc":   opt(oauth(&p.OIDC, "oidc")),
	})
	if count != 1 && deref(n).Kind == yaml.MappingNode {
		d.errorf(deref(n), path, "an authentication policy needs exactly one of \"basic\", \"bearer\", \"digest\", \"oauth2\", \"oidc\" (or \"use\" naming a reusable policy)")
	}
	return p
}

func (d *decoder) use(n *yaml.Node, path string) *Use {
	u := &Use{}
	d.object(n, path, "use", fields{
		"authentications": opt(func(n *yaml.Node, p string) {
			u.Authentications = map[string]*AuthPolicy{}
			d.mapOf(n, p, "use.authentications", func(name string, v *yaml.Node, p string) { u.Authentications[name] = d.authPolicy(v, p) })
		}),
		"errors": opt(func(n *yaml.Node, p string) {
			u.Errors = map[string]*ErrorDef{}
			d.mapOf(n, p, "use.errors", func(name string, v *yaml.Node, p string) { u.Errors[name] = d.errorDef(v, p) })
		}),
		"extensions": opt(func(n *yaml.Node, p string) {
			n = deref(n)
			d.mark(n, p)
			if n.Kind != yaml.SequenceNode {
				d.errorf(n, p, "use.extensions must be a list, not %s", kindName(n))
				return
			}
			for i, item := range n.Content {
				ip := p + "/" + strconv.Itoa(i)
				d.mapOf(item, ip, "extension item", func(name string, v *yaml.Node, ep string) {
					u.Extensions = append(u.Extensions, d.extension(name, v, ep))
				})
				if di := deref(item); di.Kind == yaml.MappingNode && len(di.Content) != 2 {
					d.errorf(di, ip, "each item of use.extensions holds exactly one named extension")
				}
			}
		}),
		"functions": opt(func(n *yaml.Node, p string) {
			u.Functions = map[string]*Task{}
			d.mapOf(n, p, "use.functions", func(name string, v *yaml.Node, p string) { u.Functions[name] = d.task(name, v, p) })
		}),
		"retries": opt(func(n *yaml.Node, p string) {
			u.Retries = map[string]*RetryPolicy{}
			d.mapOf(n, p, "use.retries", func(name string, v *yaml.Node, p string) { u.Retries[name] = d.retryPolicy(v, p) })
		}),
		"secrets": opt(d.strList(&u.Secrets)),
		"timeouts": opt(func(n *yaml.Node, p string) {
			u.Timeouts = map[string]*Timeout{}
			d.mapOf(n, p, "use.timeouts", func(name string, v *yaml.Node, p string) { u.Timeouts[name] = d.timeout(v, p) })
		}),
		"catalogs": opt(func(n *yaml.Node, p string) {
			u.Catalogs = map[string]*Catalog{}
			d.mapOf(n, p, "use.catalogs", func(name string, v *yaml.Node, p string) {
				c := &Catalog{}
				d.object(v, p, "catalog", fields{"endpoint": req(func(n *yaml.Node, p string) { d.endpoint(n, p, &c.Endpoint) })})
				u.Catalogs[name] = c
			})
		}),
	})
	return u
}

func (d *decoder) extension(name string, n *yaml.Node, path string) *Extension {
	e := &Extension{Name: name}
	d.object(n, path, "extension "+strconv.Quote(name), fields{
		"extend": req(d.enum(&e.Extend, "call", "composite", "emit", "for", "listen", "raise", "run", "set", "switch", "try", "wait", "all")),
		"when":   opt(d.exprTo(&e.When)),
		"before": opt(func(n *yaml.Node, p string) { e.Before = d.taskList(n, p) }),
		"after":  opt(func(n *yaml.Node, p string) { e.After = d.taskList(n, p) }),
	})
	return e
}

func (d *decoder) errorDef(n *yaml.Node, path string) *ErrorDef {
	e := &ErrorDef{}
	d.object(n, path, "error", fields{
		"type": req(d.stringValueTo(&e.Type)),
		"status": req(func(n *yaml.Node, p string) {
			dn := deref(n)
			if dn.Kind == yaml.ScalarNode && (dn.ShortTag() == "!!int" || dn.ShortTag() == "!!str" && isExprString(dn.Value)) {
				d.valueTo(&e.Status)(n, p)
				return
			}
			d.errorf(dn, p, "status must be a whole number such as 400, not %s", kindName(dn))
		}),
		"instance": opt(d.stringValueTo(&e.Instance)),
		"title":    opt(d.stringValueTo(&e.Title)),
		"detail":   opt(d.stringValueTo(&e.Detail)),
	})
	return e
}

func (d *decoder) timeout(n *yaml.Node, path string) *Timeout {
	t := &Timeout{}
	d.object(n, path, "timeout", fields{"after": req(func(n *yaml.Node, p string) { t.After = *d.duration(n, p) })})
	return t
}

func (d *decoder) timeoutRef(n *yaml.Node, path string) *TimeoutRef {
	r := &TimeoutRef{Path: path}
	if dn := deref(n); dn.Kind == yaml.ScalarNode {
		d.str(dn, path, &r.Ref)
		return r
	}
	r.Timeout = d.timeout(n, path)
	return r
}

func (d *decoder) durationTo(dst **Duration) func(n *yaml.Node, path string) {
	return func(n *yaml.Node, path string) { *dst = d.duration(n, path) }
}

func (d *decoder) duration(n *yaml.Node, path string) *Duration {
	dur := &Duration{Path: path}
	n = deref(n)
	d.mark(n, path)
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		if isExprString(n.Value) {
			dur.Expr = &Expr{Src: n.Value, Path: path}
			return dur
		}
		v, err := ParseISODuration(n.Value)
		if err != nil {
			d.errorf(n, path, "%v", err)
		}
		dur.Value = v
	case n.Kind == yaml.MappingNode:
		var days, hours, minutes, seconds, ms int
		d.object(n, path, "duration", fields{
			"days": opt(d.intTo(&days)), "hours": opt(d.intTo(&hours)), "minutes": opt(d.intTo(&minutes)),
			"seconds": opt(d.intTo(&seconds)), "milliseconds": opt(d.intTo(&ms)),
		})
		if len(n.Content) == 0 {
			d.errorf(n, path, "duration object is empty; give at least one of days, hours, minutes, seconds, milliseconds")
		}
		if days < 0 || hours < 0 || minutes < 0 || seconds < 0 || ms < 0 {
			d.errorf(n, path, "duration parts must not be negative")
		}
		dur.Value = time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute +
			time.Duration(seconds)*time.Second + time.Duration(ms)*time.Millisecond
	default:
		d.errorf(n, path, "%s must be an ISO 8601 duration such as 'PT1H', an object such as {minutes: 30}, or a runtime expression, not %s", lastToken(path), kindName(n))
	}
	return dur
}

var isoDurationRe = regexp.MustCompile(`^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration parses an ISO 8601 duration such as P1DT2H or PT0.5S.
// Years count as 365 days and months as 30 days: a workflow's "P1M" means
// "about a month", and a fixed length keeps timers reproducible.
func ParseISODuration(s string) (time.Duration, error) {
	m := isoDurationRe.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration; write it like 'PT30M' (30 minutes), 'PT1H' (1 hour), 'P1D' (1 day) or 'P1DT12H'", s)
	}
	units := []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var total float64
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		f, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		total += f * float64(u)
	}
	if total > float64(math.MaxInt64) {
		return 0, fmt.Errorf("duration %q is too long; the longest is about 292 years", s)
	}
	return time.Duration(total), nil
}

func (d *decoder) schedule(n *yaml.Node, path string) *Schedule {
	s := &Schedule{}
	d.object(n, path, "schedule", fields{
		"every": opt(d.durationTo(&s.Every)),
		"cron":  opt(d.strTo(&s.Cron)),
		"after": opt(d.durationTo(&s.After)),
		"on": opt(func(n *yaml.Node, p string) {
			s.On = &EventConsumption{}
			d.consumption(n, p, s.On, true)
		}),
		"read": opt(d.enum(&s.Read, "data", "envelope", "raw")),
	})
	if s.Read != "" && s.On == nil {
		d.errorf(deref(n), path+"/read", "schedule.read only applies to event-driven schedules; add schedule.on or remove read")
	}
	return s
}

func (d *decoder) consumption(n *yaml.Node, path string, c *EventConsumption, allowUntil bool) {
	c.Path = path
	filters := func(dst *[]*EventFilter) func(n *yaml.Node, p string) {
		return func(n *yaml.Node, p string) {
			n = deref(n)
			d.mark(n, p)
			if n.Kind != yaml.SequenceNode {
				d.errorf(n, p, "%s must be a list of event filters, not %s", lastToken(p), kindName(n))
				return
			}
			*dst = []*EventFilter{}
			for i, item := range n.Content {
				*dst = append(*dst, d.eventFilter(item, p+"/"+strconv.Itoa(i)))
			}
		}
	}
	fs := fields{
		"all": opt(filters(&c.All)),
		"any": opt(filters(&c.Any)),
		"one": opt(func(n *yaml.Node, p string) { c.One = d.eventFilter(n, p) }),
	}
	if allowUntil {
		fs["until"] = opt(func(n *yaml.Node, p string) {
			c.Until = &Until{}
			if dn := deref(n); dn.Kind == yaml.ScalarNode {
				d.exprTo(&c.Until.Expr)(n, p)
				return
			}
			c.Until.Strategy = &EventConsumption{}
			d.consumption(n, p, c.Until.Strategy, false)
		})
	}
	if !d.object(n, path, "event consumption strategy", fs) {
		return
	}
	count := 0
	for _, set := range []bool{c.All != nil, c.Any != nil, c.One != nil} {
		if set {
			count++
		}
	}
	if count != 1 {
		d.errorf(deref(n), path, "an event consumption strategy needs exactly one of \"all\", \"any\" or \"one\"")
	}
	if c.Until != nil && c.Any == nil {
		d.errorf(deref(n), path+"/until", "\"until\" only applies to \"any\"")
	}
}

func (d *decoder) eventFilter(n *yaml.Node, path string) *EventFilter {
	f := &EventFilter{Path: path}
	d.object(n, path, "event filter", fields{
		"with": req(func(n *yaml.Node, p string) { f.With = d.eventProperties(n, p) }),
		"correlate": opt(func(n *yaml.Node, p string) {
			f.Correlate = map[string]*Correlation{}
			d.mapOf(n, p, "correlate", func(name string, v *yaml.Node, p string) {
				c := &Correlation{}
				d.object(v, p, "correlation "+strconv.Quote(name), fields{
					"from":   req(d.exprTo(&c.From)),
					"expect": opt(d.stringValueTo(&c.Expect)),
				})
				f.Correlate[name] = c
			})
		}),
	})
	return f
}

func (d *decoder) eventProperties(n *yaml.Node, path string) map[string]*Value {
	props := map[string]*Value{}
	d.mapOf(n, path, "event properties", func(name string, v *yaml.Node, p string) {
		var val *Value
		d.valueTo(&val)(v, p)
		props[name] = val
	})
	return props
}

func (d *decoder) retryPolicy(n *yaml.Node, path string) *RetryPolicy {
	r := &RetryPolicy{}
	d.object(n, path, "retry policy", fields{
		"when":       opt(d.exprTo(&r.When)),
		"exceptWhen": opt(d.exprTo(&r.ExceptWhen)),
		"delay":      opt(d.durationTo(&r.Delay)),
		"backoff": opt(func(n *yaml.Node, p string) {
			kind := func(k string) field {
				return opt(func(n *yaml.Node, p string) {
					if r.Backoff.Kind != "" {
						d.errorf(deref(n), p, "backoff has both %q and %q; choose one", r.Backoff.Kind, k)
					}
					r.Backoff.Kind = k
					r.Backoff.Options, _ = d.value(n, p).(map[string]any)
				})
			}
			d.object(n, p, "backoff", fields{"constant": kind("constant"), "linear": kind("linear"), "exponential": kind("exponential")})
		}),
		"limit": opt(func(n *yaml.Node, p string) {
			d.object(n, p, "retry limit", fields{
				"attempt": opt(func(n *yaml.Node, p string) {
					d.object(n, p, "attempt limit", fields{
						"count":    opt(d.intTo(&r.Limit.AttemptCount)),
						"duration": opt(d.durationTo(&r.Limit.AttemptDuration)),
					})
				}),
				"duration": opt(d.durationTo(&r.Limit.Duration)),
			})
		}),
		"jitter": opt(func(n *yaml.Node, p string) {
			r.Jitter = &Jitter{}
			d.object(n, p, "jitter", fields{
				"from": req(func(n *yaml.Node, p string) { r.Jitter.From = *d.duration(n, p) }),
				"to":   req(func(n *yaml.Node, p string) { r.Jitter.To = *d.duration(n, p) }),
			})
		}),
	})
	return r
}

// ---- tasks ----

// taskKinds are the properties that give a task its type, in the order
// messages list them.
var taskKinds = []string{"call", "do", "emit", "for", "fork", "listen", "raise", "run", "set", "switch", "try", "wait"}

var baseProps = []string{"if", "input", "output", "export", "timeout", "then", "metadata"}

func (d *decoder) taskList(n *yaml.Node, path string) TaskList {
	n = deref(n)
	if !d.enter(n, path) {
		return nil
	}
	defer func() { d.depth-- }()
	d.mark(n, path)
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.MappingNode {
			hint = "; write each task as a list item: `- taskName: {...}`"
		}
		d.errorf(n, path, "%s must be a list of tasks, not %s%s", lastToken(path), kindName(n), hint)
		return nil
	}
	list := TaskList{}
	names := map[string]int{}
	for i, item := range n.Content {
		ip := path + "/" + strconv.Itoa(i)
		item = deref(item)
		d.mark(item, ip)
		if item.Kind != yaml.MappingNode || len(item.Content) == 0 {
			d.errorf(item, ip, "task list item %d must be one named task like `- sendEmail: {call: ...}`, not %s", i, kindName(item))
			continue
		}
		if len(item.Content) > 2 {
			var keys []string
			for j := 0; j < len(item.Content); j += 2 {
				keys = append(keys, deref(item.Content[j]).Value)
			}
			hint := "put each task in its own list item"
			if v := deref(item.Content[1]); v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
				hint = fmt.Sprintf("if %s are properties of task %q, indent them under the task name", quoteList(keys[1:]), keys[0])
			}
			d.errorf(item, ip, "task list item %d holds %d tasks (%s); each item holds exactly one named task: %s", i, len(keys), quoteList(keys), hint)
			continue
		}
		k := deref(item.Content[0])
		name := k.Value
		tp := ip + "/" + pointerToken(name)
		d.markKey(k, item.Content[1], tp)
		if prev, dup := names[name]; dup {
			d.errorf(k, tp, "task name %q is used twice in this list (items %d and %d); names must be unique so that `then` can point at one", name, prev, i)
		}
		names[name] = i
		t := d.task(name, item.Content[1], tp)
		list = append(list, &TaskItem{Name: name, Task: t, Path: tp})
	}
	return list
}

func (d *decoder) task(name string, n *yaml.Node, path string) *Task {
	t := &Task{}
	n = deref(n)
	d.mark(n, path)
	what := fmt.Sprintf("task %q", name)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "%s must be an object with a task type (%s), not %s", what, strings.Join(taskKinds, ", "), kindName(n))
		return t
	}
	t.Raw, _ = d.value(n, path).(map[string]any)
	present := map[string]bool{}
	for i := 0; i < len(n.Content); i += 2 {
		present[deref(n.Content[i]).Value] = true
	}
	var kinds []string
	for _, k := range taskKinds {
		if k != "do" && present[k] {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 && present["do"] {
		kinds = []string{"do"}
	}
	switch len(kinds) {
	case 0:
		msg := fmt.Sprintf("%s has no task type; give it one of %s", what, quoteList(taskKinds))
		for k := range present {
			if s := suggest(k, taskKinds); s != "" && !contains(baseProps, k) {
				msg += fmt.Sprintf(" (did you mean %q instead of %q?)", s, k)
				break
			}
		}
		d.errorf(nil, path, "%s", msg)
		return t
	case 1:
	default:
		d.errorf(nil, path, "%s has several task types (%s); a task has exactly one, split it into several tasks", what, quoteList(kinds))
		return t
	}
	t.Kind = Kind(kinds[0])
	after := func() {}
	fs := fields{
		"if":       opt(d.exprTo(&t.If)),
		"input":    opt(func(n *yaml.Node, p string) { t.Input = d.input(n, p) }),
		"output":   opt(func(n *yaml.Node, p string) { t.Output = d.output(n, p) }),
		"export":   opt(func(n *yaml.Node, p string) { t.Export = d.export(n, p) }),
		"timeout":  opt(func(n *yaml.Node, p string) { t.Timeout = d.timeoutRef(n, p) }),
		"then":     opt(d.strTo(&t.Then)),
		"metadata": opt(d.anyMap(&t.Metadata)),
	}
	switch t.Kind {
	case KindCall:
		after = d.callTask(t, fs, what, path)
	case KindDo:
		fs["do"] = req(func(n *yaml.Node, p string) { t.Do = d.taskList(n, p) })
	case KindEmit:
		fs["emit"] = req(func(n *yaml.Node, p string) {
			t.Emit = &EmitTask{}
			d.object(n, p, "emit", fields{"event": req(func(n *yaml.Node, p string) {
				d.object(n, p, "event", fields{"with": req(func(n *yaml.Node, p string) {
					t.Emit.With = d.eventProperties(n, p)
					if _, ok := t.Emit.With["type"]; !ok && deref(n).Kind == yaml.MappingNode {
						d.errorf(deref(n), p, "an emitted event needs a \"type\", e.g. type: com.example.order.paid.v1")
					}
				})})
			})})
		})
	case KindFor:
		t.For = &ForTask{Each: "item", At: "index"}
		fs["for"] = req(func(n *yaml.Node, p string) {
			d.object(n, p, "for", fields{
				"each": opt(d.strTo(&t.For.Each)),
				"in": req(func(n *yaml.Node, p string) {
					dn := deref(n)
					if dn.Kind == yaml.SequenceNode || dn.Kind == yaml.ScalarNode && dn.ShortTag() == "!!str" {
						d.valueTo(&t.For.In)(n, p)
						return
					}
					d.errorf(dn, p, "for.in must be a runtime expression or a list, not %s", kindName(dn))
				}),
				"at": opt(d.strTo(&t.For.At)),
			})
		})
		fs["while"] = opt(d.exprTo(&t.For.While))
		fs["do"] = req(func(n *yaml.Node, p string) { t.For.Do = d.taskList(n, p) })
	case KindFork:
		fs["fork"] = req(func(n *yaml.Node, p string) {
			t.Fork = &ForkTask{}
			d.object(n, p, "fork", fields{
				"branches": req(func(n *yaml.Node, p string) { t.Fork.Branches = d.taskList(n, p) }),
				"compete":  opt(d.boolTo(&t.Fork.Compete)),
			})
		})
	case KindListen:
		t.Listen = &ListenTask{Read: "data"}
		fs["listen"] = req(func(n *yaml.Node, p string) {
			d.object(n, p, "listen", fields{
				"to":   req(func(n *yaml.Node, p string) { d.consumption(n, p, &t.Listen.To, true) }),
				"read": opt(d.enum(&t.Listen.Read, "data", "envelope", "raw")),
			})
		})
		fs["foreach"] = opt(func(n *yaml.Node, p string) { t.Listen.Foreach = d.iterator(n, p) })
	case KindRaise:
		fs["raise"] = req(func(n *yaml.Node, p string) {
			t.Raise = &RaiseTask{}
			d.object(n, p, "raise", fields{"error": req(func(n *yaml.Node, p string) {
				t.Raise.Path = p
				if dn := deref(n); dn.Kind == yaml.ScalarNode {
					d.str(dn, p, &t.Raise.Ref)
					return
				}
				t.Raise.Error = d.errorDef(n, p)
			})})
		})
	case KindRun:
		fs["run"] = req(func(n *yaml.Node, p string) { t.Run = d.runTask(n, p) })
	case KindSet:
		fs["set"] = req(func(n *yaml.Node, p string) {
			dn := deref(n)
			if dn.Kind == yaml.MappingNode || dn.Kind == yaml.ScalarNode && dn.ShortTag() == "!!str" {
				d.valueTo(&t.Set)(n, p)
				if dn.Kind == yaml.MappingNode && len(dn.Content) == 0 {
					d.errorf(dn, p, "set needs at least one property")
				}
				return
			}
			d.errorf(dn, p, "set must be an object of values to set or a runtime expression, not %s", kindName(dn))
		})
	case KindSwitch:
		fs["switch"] = req(func(n *yaml.Node, p string) { t.Switch = d.switchCases(n, p) })
	case KindTry:
		t.Try = &TryTask{}
		fs["try"] = req(func(n *yaml.Node, p string) { t.Try.Try = d.taskList(n, p) })
		fs["catch"] = req(func(n *yaml.Node, p string) { t.Try.Catch = d.catch(n, p) })
	case KindWait:
		fs["wait"] = req(func(n *yaml.Node, p string) { t.Wait = d.duration(n, p) })
	}
	d.object(n, path, what, fs)
	after()
	return t
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decoder) iterator(n *yaml.Node, path string) *SubscriptionIterator {
	it := &SubscriptionIterator{Item: "item", At: "index"}
	d.object(n, path, "foreach", fields{
		"item":   opt(d.strTo(&it.Item)),
		"at":     opt(d.strTo(&it.At)),
		"do":     opt(func(n *yaml.Node, p string) { it.Do = d.taskList(n, p) }),
		"output": opt(func(n *yaml.Node, p string) { it.Output = d.output(n, p) }),
		"export": opt(func(n *yaml.Node, p string) { it.Export = d.export(n, p) }),
	})
	return it
}

func (d *decoder) switchCases(n *yaml.Node, path string) []*SwitchCase {
	n = deref(n)
	d.mark(n, path)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, path, "switch must be a non-empty list of cases like `- isPaid: {when: '${ .paid }', then: ship}`")
		return nil
	}
	var cases []*SwitchCase
	for i, item := range n.Content {
		ip := path + "/" + strconv.Itoa(i)
		d.mapOf(item, ip, "switch case", func(name string, v *yaml.Node, p string) {
			c := &SwitchCase{Name: name}
			d.object(v, p, "switch case "+strconv.Quote(name), fields{
				"when": opt(d.exprTo(&c.When)),
				"then": req(d.strTo(&c.Then)),
			})
			cases = append(cases, c)
		})
		if di := deref(item); di.Kind == yaml.MappingNode && len(di.Content) != 2 {
			d.errorf(di, ip, "each item of switch holds exactly one named case")
		}
	}
	return cases
}

func (d *decoder) catch(n *yaml.Node, path string) *Catch {
	c := &Catch{}
	d.object(n, path, "catch", fields{
		"errors": opt(func(n *yaml.Node, p string) {
			d.object(n, p, "catch.errors", fields{"with": opt(func(n *yaml.Node, p string) {
				c.Errors = map[string]*Value{}
				d.mapOf(n, p, "error filter", func(name string, v *yaml.Node, p string) {
					if !contains([]string{"type", "status", "instance", "title", "detail"}, name) {
						d.unknown(deref(v), p, "error filter", name, fields{"type": {}, "status": {}, "instance": {}, "title": {}, "detail": {}})
						return
					}
					var val *Value
					d.valueTo(&val)(v, p)
					c.Errors[name] = val
				})
			})})
		}),
		"as":         opt(d.strTo(&c.As)),
		"when":       opt(d.exprTo(&c.When)),
		"exceptWhen": opt(d.exprTo(&c.ExceptWhen)),
		"retry": opt(func(n *yaml.Node, p string) {
			c.Retry = &RetryRef{Path: p}
			if dn := deref(n); dn.Kind == yaml.ScalarNode {
				d.str(dn, p, &c.Retry.Ref)
				return
			}
			c.Retry.Policy = d.retryPolicy(n, p)
		}),
		"do":   opt(func(n *yaml.Node, p string) { c.Do = d.taskList(n, p) }),
		"then": opt(d.strTo(&c.Then)),
	})
	return c
}

func (d *decoder) runTask(n *yaml.Node, path string) *RunTask {
	r := &RunTask{Await: true, Return: "stdout"}
	kinds := 0
	count := func(f func(n *yaml.Node, p string)) field {
		return opt(func(n *yaml.Node, p string) { kinds++; f(n, p) })
	}
	env := func(dst *map[string]any) func(n *yaml.Node, p string) { return d.anyMap(dst) }
	d.object(n, path, "run", fields{
		"await":  opt(d.boolTo(&r.Await)),
		"return": opt(d.enum(&r.Return, "stdout", "stderr", "code", "all", "none")),
		"container": count(func(n *yaml.Node, p string) {
			c := &RunContainer{PullPolicy: "ifNotPresent"}
			r.Container = c
			d.object(n, p, "container", fields{
				"image": req(d.strTo(&c.Image)), "name": opt(d.strTo(&c.Name)), "command": opt(d.strTo(&c.Command)),
				"ports": opt(d.anyMap(&c.Ports)), "volumes": opt(d.anyMap(&c.Volumes)), "environment": opt(env(&c.Environment)),
				"stdin": opt(d.strTo(&c.Stdin)), "arguments": opt(d.strList(&c.Arguments)),
				"pullPolicy": opt(d.enum(&c.PullPolicy, "ifNotPresent", "always", "never")),
				"lifetime": opt(func(n *yaml.Node, p string) {
					d.object(n, p, "lifetime", fields{
						"cleanup": req(d.enum(&c.LifetimeCleanup, "always", "never", "eventually")),
						"after":   opt(d.durationTo(&c.LifetimeAfter)),
					})
					if (c.LifetimeCleanup == "eventually") != (c.LifetimeAfter != nil) {
						d.errorf(deref(n), p, "lifetime.after is required when cleanup is \"eventually\" and not allowed otherwise")
					}
				}),
			})
		}),
		"script": count(func(n *yaml.Node, p string) {
			s := &RunScript{}
			r.Script = s
			d.object(n, p, "script", fields{
				"language": req(d.strTo(&s.Language)), "code": opt(d.strTo(&s.Code)),
				"source": opt(func(n *yaml.Node, p string) { s.Source = d.externalResource(n, p) }),
				"stdin":  opt(d.strTo(&s.Stdin)), "arguments": opt(d.strList(&s.Arguments)), "environment": opt(env(&s.Environment)),
			})
			if (s.Code == "") == (s.Source == nil) {
				d.errorf(deref(n), p, "script needs exactly one of \"code\" or \"source\"")
			}
		}),
		"shell": count(func(n *yaml.Node, p string) {
			s := &RunShell{}
			r.Shell = s
			d.object(n, p, "shell", fields{
				"command": req(d.strTo(&s.Command)), "stdin": opt(d.strTo(&s.Stdin)),
				"arguments": opt(d.strList(&s.Arguments)), "environment": opt(env(&s.Environment)),
			})
		}),
		"workflow": count(func(n *yaml.Node, p string) {
			w := &RunWorkflow{}
			r.Workflow = w
			d.object(n, p, "workflow", fields{
				"namespace": req(d.strTo(&w.Namespace)), "name": req(d.strTo(&w.Name)), "version": req(d.strTo(&w.Version)),
				"input": opt(d.valueTo(&w.Input)),
			})
		}),
	})
	if kinds != 1 && deref(n).Kind == yaml.MappingNode {
		d.errorf(deref(n), path, "run needs exactly one of \"container\", \"script\", \"shell\" or \"workflow\"")
	}
	return r
}

// callTask registers the properties of a call task. The arguments' shape
// depends on the call kind, so `with` is decoded by the returned function
// once the task's own properties are known.
func (d *decoder) callTask(t *Task, fs fields, what, path string) func() {
	c := &CallTask{}
	t.Call = c
	var withNode *yaml.Node
	var withPath string
	fs["call"] = req(d.strTo(&c.Call))
	fs["with"] = opt(func(n *yaml.Node, p string) { withNode, withPath = n, p })
	return func() {
		if c.Call == "" {
			return
		}
		if withNode == nil {
			if contains(CallKinds, c.Call) {
				d.errorf(nil, path, "%s calls %s but has no \"with\" arguments", what, c.Call)
			}
			return
		}
		d.callArgs(c, withNode, withPath)
	}
}

func (d *decoder) callArgs(c *CallTask, n *yaml.Node, p string) {
	authOpt := func(dst **AuthRef) field {
		return opt(func(n *yaml.Node, p string) { *dst = d.authRef(n, p) })
	}
	switch c.Call {
	case "http":
		h := &HTTPCall{Output: "content"}
		c.HTTP = h
		d.object(n, p, "http call arguments", fields{
			"method":   req(d.stringValueTo(&h.Method)),
			"endpoint": req(func(n *yaml.Node, p string) { d.endpoint(n, p, &h.Endpoint) }),
			"headers":  opt(d.objectOrString(&h.Headers)),
			"body":     opt(d.valueTo(&h.Body)),
			"query":    opt(d.objectOrString(&h.Query)),
			"output":   opt(d.enum(&h.Output, "raw", "content", "response")),
			"redirect": opt(d.boolTo(&h.Redirect)),
		})
	case "openapi":
		o := &OpenAPICall{Output: "content"}
		c.OpenAPI = o
		d.object(n, p, "openapi call arguments", fields{
			"document":       req(func(n *yaml.Node, p string) { o.Document = *d.externalResource(n, p) }),
			"operationId":    req(d.strTo(&o.OperationID)),
			"parameters":     opt(d.valueTo(&o.Parameters)),
			"authentication": authOpt(&o.Authentication),
			"output":         opt(d.enum(&o.Output, "raw", "content", "response")),
			"redirect":       opt(d.boolTo(&o.Redirect)),
		})
	case "grpc":
		g := &GRPCCall{}
		c.GRPC = g
		d.object(n, p, "grpc call arguments", fields{
			"proto": req(func(n *yaml.Node, p string) { g.Proto = *d.externalResource(n, p) }),
			"service": req(func(n *yaml.Node, p string) {
				d.object(n, p, "service", fields{
					"name": req(d.strTo(&g.ServiceName)), "host": req(d.strTo(&g.Host)), "port": opt(d.intTo(&g.Port)),
					"authentication": authOpt(&g.Auth),
				})
			}),
			"method":    req(d.strTo(&g.Method)),
			"arguments": opt(d.valueTo(&g.Arguments)),
		})
	case "asyncapi":
		a := &AsyncAPICall{}
		c.AsyncAPI = a
		d.object(n, p, "asyncapi call arguments", fields{
			"document":       req(func(n *yaml.Node, p string) { a.Document = *d.externalResource(n, p) }),
			"channel":        opt(d.strTo(&a.Channel)),
			"operation":      opt(d.strTo(&a.Operation)),
			"server":         opt(d.anyMap(&a.Server)),
			"protocol":       opt(d.enum(&a.Protocol, "amqp", "amqp1", "anypointmq", "googlepubsub", "http", "ibmmq", "jms", "kafka", "mercure", "mqtt", "mqtt5", "nats", "pulsar", "redis", "sns", "solace", "sqs", "stomp", "ws")),
			"message":        opt(d.anyMap(&a.Message)),
			"subscription":   opt(d.anyMap(&a.Subscription)),
			"authentication": authOpt(&a.Authentication),
		})
		if (a.Channel == "") == (a.Operation == "") || (a.Message == nil) == (a.Subscription == nil) {
			d.errorf(deref(n), p, "asyncapi call needs one of \"channel\" or \"operation\", and one of \"message\" or \"subscription\"")
		}
	case "a2a":
		a := &A2ACall{}
		c.A2A = a
		d.object(n, p, "a2a call arguments", fields{
			"agentCard":  opt(func(n *yaml.Node, p string) { a.AgentCard = d.externalResource(n, p) }),
			"server":     opt(func(n *yaml.Node, p string) { a.Server = &Endpoint{}; d.endpoint(n, p, a.Server) }),
			"method":     req(d.strTo(&a.Method)),
			"parameters": opt(d.valueTo(&a.Parameters)),
		})
	case "mcp":
		m := &MCPCall{ProtocolVersion: "2025-06-18"}
		c.MCP = m
		d.object(n, p, "mcp call arguments", fields{
			"protocolVersion": opt(d.strTo(&m.ProtocolVersion)),
			"method":          req(d.enum(&m.Method, "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list", "resources/read", "resources/templates/list")),
			"parameters":      opt(d.valueTo(&m.Parameters)),
			"timeout":         opt(d.durationTo(&m.Timeout)),
			"transport":       req(d.anyMap(&m.Transport)),
			"client":          opt(d.anyMap(&m.Client)),
		})
	default:
		dn := deref(n)
		if dn.Kind != yaml.MappingNode {
			d.errorf(dn, p, "with must be an object of arguments, not %s", kindName(dn))
			return
		}
		d.valueTo(&c.With)(n, p)
	}
}
