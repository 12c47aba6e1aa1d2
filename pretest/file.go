package pretest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is the JSON Schema of pretest files; Load checks every file
// against it.
//
//go:embed schema.json
var Schema []byte

// DefaultStart is when scenarios start unless the file says otherwise: a
// Monday morning, so that "send at 10:00" and quiet hours read plainly.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// DefaultWithin is how far from its `at` an expected call may be.
const DefaultWithin = time.Minute

// File is a parsed pretest file.
type File struct {
	Path      string      `yaml:"-"`
	Workflows []Ref       `yaml:"workflows"`
	Start     *When       `yaml:"start"`
	Shop      Value       `yaml:"shop"`
	Customers []Customer  `yaml:"customers"`
	Users     []User      `yaml:"users"`
	Answers   Answers     `yaml:"answers"`
	Scenarios []*Scenario `yaml:"scenarios"`

	// A replay adds the live store's shops and logs its events from before
	// the window as history (see Replay).
	extraShops []shop.Shop
	history    []store.Event
}

// Ref is a path written in the file, with its line.
type Ref struct {
	Path string
	Line int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Ref) UnmarshalYAML(n *yaml.Node) error {
	*r = Ref{Path: n.Value, Line: n.Line}
	return nil
}

// Value is any JSON value, written in YAML. Set tells that it was written.
type Value struct {
	V    any
	Set  bool
	Line int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	val, err := toJSON(n, "", nil)
	if err != nil {
		return err
	}
	*v = Value{V: val, Set: true, Line: n.Line}
	return nil
}

// Customer is a fictitious customer.
type Customer struct {
	Line      int               `yaml:"-"`
	ID        string            `yaml:"id"`
	Email     string            `yaml:"email"`
	Phone     string            `yaml:"phone"`
	FirstName string            `yaml:"firstName"`
	LastName  string            `yaml:"lastName"`
	Since     When              `yaml:"since"`
	Consent   map[string]string `yaml:"consent"`
	Tags      []string          `yaml:"tags"`
	Orders    []PastOrder       `yaml:"orders"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Customer) UnmarshalYAML(n *yaml.Node) error {
	type plain Customer
	c.Line = n.Line
	return n.Decode((*plain)(c))
}

// User is a fictitious person of the shop who answers approval tasks.
type User struct {
	Line  int      `yaml:"-"`
	ID    string   `yaml:"id"`
	Name  string   `yaml:"name"`
	Email string   `yaml:"email"`
	Roles []string `yaml:"roles"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (u *User) UnmarshalYAML(n *yaml.Node) error {
	type plain User
	u.Line = n.Line
	return n.Decode((*plain)(u))
}

// PastOrder is an order of a customer's history.
type PastOrder struct {
	Line     int    `yaml:"-"`
	At       When   `yaml:"at"`
	ID       string `yaml:"id"`
	Total    string `yaml:"total"`
	Currency string `yaml:"currency"`
	Data     Value  `yaml:"data"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (o *PastOrder) UnmarshalYAML(n *yaml.Node) error {
	type plain PastOrder
	o.Line = n.Line
	return n.Decode((*plain)(o))
}

// Answers are scripted answers by call name.
type Answers map[string][]Answer

// Answer is one scripted answer.
type Answer struct {
	Line    int           `yaml:"-"`
	Output  Value         `yaml:"output"`
	Error   *ProblemMatch `yaml:"error"`
	Timeout bool          `yaml:"timeout"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *Answer) UnmarshalYAML(n *yaml.Node) error {
	type plain Answer
	a.Line = n.Line
	return n.Decode((*plain)(a))
}

// ProblemMatch is problem details: a scripted failure, or what an
// instance's error must have.
type ProblemMatch struct {
	Type   string `yaml:"type" json:"type,omitempty"`
	Status int    `yaml:"status" json:"status,omitempty"`
	Title  string `yaml:"title" json:"title,omitempty"`
	Detail string `yaml:"detail" json:"detail,omitempty"`
}

// Scenario is one timeline of events with its expectations.
type Scenario struct {
	Line    int       `yaml:"-"`
	Name    string    `yaml:"name"`
	Start   *When     `yaml:"start"`
	For     *Duration `yaml:"for"`
	Events  []Event   `yaml:"events"`
	Answers Answers   `yaml:"answers"`
	Expect  Expect    `yaml:"expect"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Scenario) UnmarshalYAML(n *yaml.Node) error {
	type plain Scenario
	s.Line = n.Line
	return n.Decode((*plain)(s))
}

// Event is an event of a scenario's timeline.
type Event struct {
	Line     int      `yaml:"-"`
	At       When     `yaml:"at"`
	Type     string   `yaml:"type"`
	ID       string   `yaml:"id"`
	Source   string   `yaml:"source"`
	Subject  string   `yaml:"subject"`
	Customer string   `yaml:"customer"`
	Data     Value    `yaml:"data"`
	Webhook  *Webhook `yaml:"webhook"`
	Task     *TaskAct `yaml:"task"`

	// raw is a recorded event a replay logs as it was.
	raw *store.Event
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *Event) UnmarshalYAML(n *yaml.Node) error {
	type plain Event
	e.Line = n.Line
	return n.Decode((*plain)(e))
}

// TaskAct is a user acting on an approval task: completing it with an
// answer (the default), rejecting, claiming or reassigning it.
type TaskAct struct {
	Title    string `yaml:"title"`
	ID       string `yaml:"id"`
	Workflow string `yaml:"workflow"`
	By       string `yaml:"by"`
	Action   string `yaml:"action"`
	Answer   Value  `yaml:"answer"`
	Reason   string `yaml:"reason"`
	To       *struct {
		User string `yaml:"user"`
		Role string `yaml:"role"`
	} `yaml:"to"`
}

// Webhook is a webhook in the shop platform's own format.
type Webhook struct {
	Topic    string            `yaml:"topic"`
	Body     Value             `yaml:"body"`
	BodyFile string            `yaml:"bodyFile"`
	ID       string            `yaml:"id"`
	Headers  map[string]string `yaml:"headers"`
}

// Expect holds a scenario's expectations.
type Expect struct {
	Sent       []SentExpect       `yaml:"sent"`
	NotSent    []NotSentExpect    `yaml:"notSent"`
	Suppressed []SuppressedExpect `yaml:"suppressed"`
	Instances  []InstanceExpect   `yaml:"instances"`
	Tasks      []TaskExpect       `yaml:"tasks"`
}

// TaskExpect is how an approval task must stand at the scenario's end.
type TaskExpect struct {
	Line      int    `yaml:"-"`
	Title     string `yaml:"title"`
	Workflow  string `yaml:"workflow"`
	Role      string `yaml:"role"`
	User      string `yaml:"user"`
	Status    string `yaml:"status"`
	By        string `yaml:"by"`
	Answer    Value  `yaml:"answer"`
	Reason    string `yaml:"reason"`
	Escalated *bool  `yaml:"escalated"`
	Reminded  *int   `yaml:"reminded"`
	Count     *int   `yaml:"count"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *TaskExpect) UnmarshalYAML(n *yaml.Node) error {
	type plain TaskExpect
	e.Line = n.Line
	return n.Decode((*plain)(e))
}

// CallMatch says which calls an expectation is about.
type CallMatch struct {
	Call     string   `yaml:"call"`
	Workflow string   `yaml:"workflow"`
	To       string   `yaml:"to"`
	Template string   `yaml:"template"`
	Subject  string   `yaml:"subject"`
	Category string   `yaml:"category"`
	Discount string   `yaml:"discount"`
	Tags     []string `yaml:"tags"`
	With     Value    `yaml:"with"`
}

// SentExpect is a call that must have been made.
type SentExpect struct {
	Line      int `yaml:"-"`
	CallMatch `yaml:",inline"`
	At        When      `yaml:"at"`
	Within    *Duration `yaml:"within"`
	Count     int       `yaml:"count"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *SentExpect) UnmarshalYAML(n *yaml.Node) error {
	type plain SentExpect
	e.Line = n.Line
	return n.Decode((*plain)(e))
}

// NotSentExpect is a call that must not have been made.
type NotSentExpect struct {
	Line      int `yaml:"-"`
	CallMatch `yaml:",inline"`
	After     When `yaml:"after"`
	Before    When `yaml:"before"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *NotSentExpect) UnmarshalYAML(n *yaml.Node) error {
	type plain NotSentExpect
	e.Line = n.Line
	return n.Decode((*plain)(e))
}

// SuppressedExpect is a message the sending rules must have suppressed.
type SuppressedExpect struct {
	Line     int       `yaml:"-"`
	Call     string    `yaml:"call"`
	Reason   string    `yaml:"reason"`
	To       string    `yaml:"to"`
	Workflow string    `yaml:"workflow"`
	At       When      `yaml:"at"`
	Within   *Duration `yaml:"within"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *SuppressedExpect) UnmarshalYAML(n *yaml.Node) error {
	type plain SuppressedExpect
	e.Line = n.Line
	return n.Decode((*plain)(e))
}

// InstanceExpect is how an instance must have ended, or stand.
type InstanceExpect struct {
	Line     int           `yaml:"-"`
	Workflow string        `yaml:"workflow"`
	Status   string        `yaml:"status"`
	Output   Value         `yaml:"output"`
	Error    *ProblemMatch `yaml:"error"`
	Count    *int          `yaml:"count"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *InstanceExpect) UnmarshalYAML(n *yaml.Node) error {
	type plain InstanceExpect
	e.Line = n.Line
	return n.Decode((*plain)(e))
}

// Error is a problem of a pretest file, at its line and column.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"` // JSON Pointer of the property
	Message string `json:"message"`
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			where += ":" + strconv.Itoa(e.Column)
		}
	}
	if e.Path != "" {
		return where + ": " + e.Path + ": " + e.Message
	}
	return where + ": " + e.Message
}

// Errors are every problem found in a file.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// posError is an error at a node, before the file's name is known.
type posError struct {
	line, col int
	err       error
}

func (e *posError) Error() string { return e.err.Error() }

func lineError(n *yaml.Node, err error) error {
	return &posError{line: n.Line, col: n.Column, err: err}
}

// LoadFile reads and checks a pretest file.
func LoadFile(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, src)
}

// Load parses a pretest file: YAML checked against Schema, then decoded.
// Problems are Errors, each with its line.
func Load(path string, src []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, Errors{yamlError(path, err)}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: path, Line: 1, Message: "the file is empty: it needs workflows and scenarios (see the pretest schema)"}}
	}
	root := doc.Content[0]
	lines := map[string]*yaml.Node{}
	val, err := toJSON(root, "", lines)
	if err != nil {
		return nil, Errors{posErr(path, err)}
	}
	if errs := validate(path, val, lines); len(errs) > 0 {
		return nil, errs
	}
	f := &File{Path: path}
	if err := root.Decode(f); err != nil {
		return nil, Errors{posErr(path, err)}
	}
	if errs := f.check(lines); len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

func posErr(path string, err error) *Error {
	var pe *posError
	if errors.As(err, &pe) {
		return &Error{File: path, Line: pe.line, Column: pe.col, Message: pe.err.Error()}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return &Error{File: path, Message: strings.Join(te.Errors, "; ")}
	}
	return &Error{File: path, Message: err.Error()}
}

func yamlError(path string, err error) *Error {
	// yaml.v3 says "yaml: line N: message".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: path, Message: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				e.Line, e.Message = n, text
			}
		}
	}
	return e
}

// toJSON turns a YAML node into the JSON value it writes, noting each
// value's node by its JSON Pointer in lines (when given).
func toJSON(n *yaml.Node, ptr string, lines map[string]*yaml.Node) (any, error) {
	c := &converter{lines: lines, budget: maxValues}
	return c.value(n, ptr)
}

// maxValues bounds the values a file may expand to, so that aliases of
// aliases cannot blow it up.
const maxValues = 1_000_000

type converter struct {
	lines  map[string]*yaml.Node
	budget int
}

func (c *converter) value(n *yaml.Node, ptr string) (any, error) {
	if c.budget--; c.budget < 0 {
		return nil, lineError(n, fmt.Errorf("the file expands to more than %d values (aliases of aliases?)", maxValues))
	}
	lines := c.lines
	if lines != nil {
		lines[ptr] = n
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], ptr)
	case yaml.AliasNode:
		// An alias inside what it names would never end.
		if containsNode(n.Alias, n, 0) {
			return nil, lineError(n, fmt.Errorf("the alias *%s refers to a value that holds it", n.Value))
		}
		return c.value(n.Alias, ptr)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, lineError(k, errors.New("a key must be a plain string"))
			}
			if k.Tag == "!!merge" {
				return nil, lineError(k, errors.New("merge keys (<<) are not supported"))
			}
			if _, dup := m[k.Value]; dup {
				return nil, lineError(k, fmt.Errorf("%q is given twice", k.Value))
			}
			child := ptr + "/" + strings.ReplaceAll(strings.ReplaceAll(k.Value, "~", "~0"), "/", "~1")
			if lines != nil {
				lines[child+"#key"] = k
			}
			val, err := c.value(v, child)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			val, err := c.value(item, ptr+"/"+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, lineError(n, err)
		}
		return b, nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, lineError(n, err)
		}
		return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	// Strings, and timestamps kept as written.
	return n.Value, nil
}

// containsNode tells whether n holds x, aliases followed (not too deep:
// a pretest file has no use for aliases of aliases of aliases).
func containsNode(n, x *yaml.Node, depth int) bool {
	if n == x {
		return true
	}
	if depth > 32 {
		return true
	}
	if n.Kind == yaml.AliasNode {
		return containsNode(n.Alias, x, depth+1)
	}
	for _, c := range n.Content {
		if containsNode(c, x, depth+1) {
			return true
		}
	}
	return false
}

var printer = message.NewPrinter(language.English)

// unknownProperties says which properties are not known where, with the
// known ones nearest in spelling.
func unknownProperties(props []string, ptr string) string {
	quoted := make([]string, len(props))
	for i, p := range props {
		quoted[i] = strconv.Quote(p)
	}
	msg := "unknown property " + strings.Join(quoted, ", ")
	if hint := nearestKey(props[0], knownKeys(ptr)); hint != "" {
		msg += fmt.Sprintf("; did you mean %q?", hint)
	}
	return msg
}

var compiled = func() *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		panic(fmt.Sprintf("pretest: schema: %v", err))
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("pretest.json", doc); err != nil {
		panic(fmt.Sprintf("pretest: schema: %v", err))
	}
	s, err := c.Compile("pretest.json")
	if err != nil {
		panic(fmt.Sprintf("pretest: schema: %v", err))
	}
	return s
}()

// validate checks a file's value against the schema, naming the line of
// every problem.
func validate(path string, val any, lines map[string]*yaml.Node) Errors {
	// The validator wants JSON's own types: numbers as json.Number are
	// fine, the rest are already plain.
	err := compiled.Validate(val)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Errors{{File: path, Message: err.Error()}}
	}
	var leaves []*jsonschema.ValidationError
	collectLeaves(ve, &leaves)
	var out Errors
	seen := map[string]bool{}
	for _, l := range leaves {
		ptr := pointer(l.InstanceLocation)
		msg := l.ErrorKind.LocalizedString(printer)
		if seen[ptr+"\x00"+msg] {
			continue
		}
		seen[ptr+"\x00"+msg] = true
		e := &Error{File: path, Path: ptr, Message: msg}
		n := lines[ptr]
		// An unknown property is best shown at its key, with a hint.
		if ap, ok := l.ErrorKind.(*kind.AdditionalProperties); ok && len(ap.Properties) > 0 {
			if k := lines[ptr+"/"+ap.Properties[0]+"#key"]; k != nil {
				n = k
			}
			e.Message = unknownProperties(ap.Properties, ptr)
		}
		// A property unevaluatedProperties refuses fails a false schema.
		if _, ok := l.ErrorKind.(*kind.FalseSchema); ok && len(l.InstanceLocation) > 0 {
			parent := pointer(l.InstanceLocation[:len(l.InstanceLocation)-1])
			if _, isObject := valueAt(val, parent).(map[string]any); isObject {
				prop := l.InstanceLocation[len(l.InstanceLocation)-1]
				e.Path, e.Message = parent, unknownProperties([]string{prop}, parent)
				if k := lines[ptr+"#key"]; k != nil {
					n = k
				}
			}
		}
		if n != nil {
			e.Line, e.Column = n.Line, n.Column
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// valueAt is the value at a JSON Pointer of v, or nil.
func valueAt(v any, ptr string) any {
	if ptr == "" {
		return v
	}
	for _, t := range strings.Split(ptr, "/")[1:] {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			v = x[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func collectLeaves(e *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	if len(e.Causes) == 0 {
		*out = append(*out, e)
		return
	}
	for _, c := range e.Causes {
		collectLeaves(c, out)
	}
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// check finds what the schema cannot say: names given twice, customers
// and files that do not exist.
func (f *File) check(lines map[string]*yaml.Node) Errors {
	var errs Errors
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: f.Path, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	dir := filepath.Dir(f.Path)
	for _, w := range f.Workflows {
		if _, err := os.Stat(filepath.Join(dir, w.Path)); err != nil {
			bad(w.Line, "workflow file %s: %v (paths are relative to the test file)", w.Path, unwrapPath(err))
		}
	}
	customers := map[string]bool{}
	for _, c := range f.Customers {
		if customers[c.ID] {
			bad(c.Line, "customer %q is given twice", c.ID)
		}
		customers[c.ID] = true
	}
	users := map[string]bool{}
	for _, u := range f.Users {
		if users[u.ID] {
			bad(u.Line, "user %q is given twice", u.ID)
		}
		users[u.ID] = true
	}
	names := map[string]int{}
	for _, s := range f.Scenarios {
		if line, dup := names[s.Name]; dup {
			bad(s.Line, "scenario %q is named twice (also on line %d): --run picks scenarios by name", s.Name, line)
		}
		names[s.Name] = s.Line
		for _, e := range s.Events {
			if e.Customer != "" && !customers[e.Customer] {
				bad(e.Line, "customer %q is not among the file's customers", e.Customer)
			}
			if e.Task != nil && !users[e.Task.By] {
				bad(e.Line, "user %q is not among the file's users (give them under users: with their roles)", e.Task.By)
			}
			if e.Webhook != nil && e.Webhook.BodyFile != "" {
				if _, err := os.Stat(filepath.Join(dir, e.Webhook.BodyFile)); err != nil {
					bad(e.Line, "webhook bodyFile %s: %v", e.Webhook.BodyFile, unwrapPath(err))
				}
			}
		}
	}
	return errs
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// schemaDoc is the schema as plain JSON, for the names of known keys.
var schemaDoc = func() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(Schema, &m); err != nil {
		panic(fmt.Sprintf("pretest: schema: %v", err))
	}
	return m
}()

// knownKeys lists the properties the schema knows for the object at a
// JSON Pointer of a file.
func knownKeys(ptr string) []string {
	at := []map[string]any{schemaDoc}
	tokens := strings.Split(ptr, "/")[1:]
	for _, t := range tokens {
		var next []map[string]any
		for _, s := range expand(at) {
			if props, ok := s["properties"].(map[string]any); ok {
				if p, ok := props[t].(map[string]any); ok {
					next = append(next, p)
					continue
				}
			}
			if items, ok := s["items"].(map[string]any); ok {
				if _, err := strconv.Atoi(t); err == nil {
					next = append(next, items)
					continue
				}
			}
			if ap, ok := s["additionalProperties"].(map[string]any); ok {
				next = append(next, ap)
			}
		}
		at = next
	}
	var keys []string
	for _, s := range expand(at) {
		if props, ok := s["properties"].(map[string]any); ok {
			for k := range props {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// expand follows $ref and allOf, anyOf and oneOf to the schemas that say
// what an object has.
func expand(list []map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(s map[string]any, depth int)
	walk = func(s map[string]any, depth int) {
		if depth > 8 {
			return
		}
		out = append(out, s)
		if ref, ok := s["$ref"].(string); ok {
			if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
				if d, ok := schemaDoc["$defs"].(map[string]any)[name].(map[string]any); ok {
					walk(d, depth+1)
				}
			}
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			list, _ := s[k].([]any)
			for _, x := range list {
				if m, ok := x.(map[string]any); ok {
					walk(m, depth+1)
				}
			}
		}
	}
	for _, s := range list {
		walk(s, 0)
	}
	return out
}

func nearestKey(word string, known []string) string { return dsl.Suggest(word, known) }
