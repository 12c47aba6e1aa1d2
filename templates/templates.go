// Package templates is storeflow's library of ready workflows for a shop's
// processes (abandoned checkout, welcome series, post-purchase …), embedded
// in the binary, with the email templates they send and a pretest file
// (NAME.test.yaml) each.
//
// Every template is a plain, valid Open Workflow document: its settings are
// literal values in it, so that it runs, validates and pretests as it
// stands. The settings a merchant is meant to change are declared as
// parameters under document.metadata.parameters, each with a type, a
// description and the JSON Pointer of its value in the document; Render
// writes new values there, in place, keeping every other byte of the file.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/cron"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/semver"
)

//go:embed *.yaml
var files embed.FS

// emailsFile holds the email templates of the library.
const emailsFile = "emails.yaml"

// Template is a workflow of the library.
type Template struct {
	// Name is the file's name without .yaml, and the workflow's name.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Version   string `json:"version"`
	Title     string `json:"title,omitempty"`
	Summary   string `json:"summary,omitempty"`
	// Parameters in the order the file declares them.
	Parameters []Parameter `json:"parameters"`
	// Source is the workflow as the library holds it.
	Source []byte `json:"-"`
	// Test is its pretest file (NAME.test.yaml), when it has one.
	Test []byte `json:"-"`

	version *yaml.Node
}

// Parameter is a setting of a template.
type Parameter struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
	// Path is the JSON Pointer of the value in the document.
	Path string `json:"path"`
	// Default is the value the library's file holds, as written.
	Default string `json:"default"`
	// Values are the values an enum parameter takes.
	Values []string `json:"values,omitempty"`
	// Required parameters have no value that fits every shop (the shop's
	// id): installing needs one.
	Required bool `json:"required,omitempty"`
	// Demo, when set, is the value `storeflow demo` installs; otherwise
	// the demo scales durations by its speed.
	Demo string `json:"demo,omitempty"`

	node *yaml.Node
}

// Types of parameters.
const (
	TypeDuration = "duration" // ISO 8601: PT1H, P7D
	TypeNumber   = "number"
	TypeInteger  = "integer"
	TypeString   = "string"
	TypeBoolean  = "boolean"
	TypeCron     = "cron" // five fields, UTC
	TypeEnum     = "enum"
)

// All returns every template of the library, by name.
func All() ([]*Template, error) {
	entries, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Template
	for _, e := range entries {
		if e == emailsFile || strings.HasSuffix(e, ".test.yaml") {
			continue
		}
		t, err := load(e)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ErrUnknown is Get's error for a name the library has no template of.
var ErrUnknown = errors.New("no such template")

// Get returns the template of that name.
func Get(name string) (*Template, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(all))
	for i, t := range all {
		if t.Name == name {
			return t, nil
		}
		names[i] = t.Name
	}
	return nil, fmt.Errorf("%w %q; the library has %s", ErrUnknown, name, strings.Join(names, ", "))
}

// Files returns the library's files (workflows, pretests, emails.yaml), for
// tools that read them as a tree.
func Files() fs.FS { return files }

func load(file string) (*Template, error) {
	src, err := files.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := Parse(strings.TrimSuffix(file, ".yaml"), src)
	if err != nil {
		return nil, err
	}
	if test, err := files.ReadFile(t.Name + ".test.yaml"); err == nil {
		t.Test = test
	}
	return t, nil
}

// Parse reads a template: a workflow whose document.metadata.parameters
// declares its settings.
func Parse(name string, src []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("template %s: empty", name)
	}
	doc := root.Content[0]
	t := &Template{Name: name, Source: src}
	document := child(doc, "document")
	if document == nil {
		return nil, fmt.Errorf("template %s: no document", name)
	}
	t.version = child(document, "version")
	if t.version == nil || t.version.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("template %s: document.version is required", name)
	}
	for key, dst := range map[string]*string{"namespace": &t.Namespace, "version": &t.Version, "title": &t.Title, "summary": &t.Summary} {
		if n := child(document, key); n != nil {
			*dst = strings.TrimSpace(n.Value)
		}
	}
	if n := child(document, "name"); n == nil || n.Value != name {
		return nil, fmt.Errorf("template %s: document.name must be %q, the file's name", name, name)
	}
	params := child(child(document, "metadata"), "parameters")
	if params == nil {
		return t, nil
	}
	if params.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template %s:%d: document.metadata.parameters is a map of parameters by name", name, params.Line)
	}
	for i := 0; i+1 < len(params.Content); i += 2 {
		p := Parameter{Name: params.Content[i].Value}
		if err := params.Content[i+1].Decode(&struct {
			Type        *string   `yaml:"type"`
			Description *string   `yaml:"description"`
			Path        *string   `yaml:"path"`
			Values      *[]string `yaml:"values"`
			Demo        *string   `yaml:"demo"`
			Required    *bool     `yaml:"required"`
		}{&p.Type, &p.Description, &p.Path, &p.Values, &p.Demo, &p.Required}); err != nil {
			return nil, fmt.Errorf("template %s: parameter %s: %w", name, p.Name, err)
		}
		n, err := resolve(doc, p.Path)
		if err != nil {
			return nil, fmt.Errorf("template %s: parameter %s: path %q: %w", name, p.Name, p.Path, err)
		}
		if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return nil, fmt.Errorf("template %s:%d: parameter %s: the value at %s must be a one-line scalar", name, n.Line, p.Name, p.Path)
		}
		p.node, p.Default = n, n.Value
		if err := p.check(p.Default); err != nil {
			return nil, fmt.Errorf("template %s:%d: parameter %s: its value in the file: %w", name, n.Line, p.Name, err)
		}
		if p.Demo != "" {
			if err := p.check(p.Demo); err != nil {
				return nil, fmt.Errorf("template %s: parameter %s: demo value: %w", name, p.Name, err)
			}
		}
		t.Parameters = append(t.Parameters, p)
	}
	return t, nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// resolve follows a JSON Pointer (RFC 6901) through a YAML document.
func resolve(n *yaml.Node, pointer string) (*yaml.Node, error) {
	if !strings.HasPrefix(pointer, "/") {
		return nil, errors.New("a JSON Pointer starts with /")
	}
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		switch n.Kind {
		case yaml.MappingNode:
			next := child(n, tok)
			if next == nil {
				return nil, fmt.Errorf("no key %q", tok)
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil, fmt.Errorf("no element %q in a list of %d", tok, len(n.Content))
			}
			n = n.Content[i]
		default:
			return nil, fmt.Errorf("%q goes past a scalar", tok)
		}
	}
	return n, nil
}

// check reports whether v is a value of the parameter's type.
func (p *Parameter) check(v string) error {
	if strings.Contains(v, "${") {
		return fmt.Errorf("%q: parameters are plain values, not expressions; to compute one, edit the workflow", v)
	}
	switch p.Type {
	case TypeDuration:
		d, err := dsl.ParseISODuration(v)
		if err != nil {
			return fmt.Errorf("%q is not an ISO 8601 duration such as PT1H or P7D", v)
		}
		if d <= 0 {
			return fmt.Errorf("%q: give a duration above zero", v)
		}
	case TypeNumber:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case TypeInteger:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	case TypeBoolean:
		if v != "true" && v != "false" {
			return fmt.Errorf("%q: give true or false", v)
		}
	case TypeCron:
		if _, err := cron.Parse(v); err != nil {
			return fmt.Errorf("%q is not a cron expression: %v", v, err)
		}
	case TypeEnum:
		for _, ok := range p.Values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("%q: give one of %s", v, strings.Join(p.Values, ", "))
	case TypeString:
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%q: give one line", v)
		}
	default:
		return fmt.Errorf("type %q: use duration, number, integer, string, boolean, cron or enum", p.Type)
	}
	return nil
}

// yamlValue writes a value of the parameter's type as a YAML scalar.
func (p *Parameter) yamlValue(v string) string {
	switch p.Type {
	case TypeNumber, TypeInteger, TypeBoolean:
		return v
	}
	return strconv.Quote(v) // a JSON string is a YAML double-quoted scalar
}

// Parameter returns the parameter of that name.
func (t *Template) Parameter(name string) (*Parameter, error) {
	names := make([]string, len(t.Parameters))
	for i := range t.Parameters {
		if t.Parameters[i].Name == name {
			return &t.Parameters[i], nil
		}
		names[i] = t.Parameters[i].Name
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("template %s has no parameters", t.Name)
	}
	msg := fmt.Sprintf("template %s has no parameter %q", t.Name, name)
	if near := dsl.Suggest(name, names); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return nil, fmt.Errorf("%s (its parameters: %s)", msg, strings.Join(names, ", "))
}

// Render returns the template's source with the given parameter values
// written in place of the file's; every other byte stays as it is. Values
// are checked against their parameter's type; an unknown name is an error.
func (t *Template) Render(set map[string]string) ([]byte, error) {
	var edits []edit
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		p, err := t.Parameter(name)
		if err != nil {
			return nil, err
		}
		v := strings.TrimSpace(set[name])
		if err := p.check(v); err != nil {
			return nil, fmt.Errorf("--set %s: %w", name, err)
		}
		edits = append(edits, edit{p.node.Line, p.node.Column, p.yamlValue(v)})
	}
	return t.apply(edits)
}

// Install is Render for installing: every required parameter must be set,
// and version, when given, replaces document.version (a workflow's
// version holds one source, so other settings of an installed template
// are a new version).
func (t *Template) Install(set map[string]string, version string) ([]byte, error) {
	var missing []string
	for _, p := range t.Parameters {
		if _, ok := set[p.Name]; p.Required && !ok {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("template %s needs --set %s=…: %s has no value that fits every shop", t.Name, missing[0], strings.Join(missing, ", "))
	}
	src, err := t.Render(set)
	if err != nil || version == "" {
		return src, err
	}
	if !semver.Valid(version) {
		return nil, fmt.Errorf("version %q is not a semantic version such as 1.0.1", version)
	}
	again, err := Parse(t.Name, src)
	if err != nil {
		return nil, err
	}
	return again.apply([]edit{{again.version.Line, again.version.Column, strconv.Quote(version)}})
}

// edit replaces the scalar at a line and column.
type edit struct {
	line, col int
	value     string
}

func (t *Template) apply(edits []edit) ([]byte, error) {
	lines := bytes.SplitAfter(t.Source, []byte("\n"))
	// Right to left, so that two edits of one line keep their columns.
	sort.Slice(edits, func(i, j int) bool {
		if edits[i].line != edits[j].line {
			return edits[i].line < edits[j].line
		}
		return edits[i].col > edits[j].col
	})
	for _, e := range edits {
		if e.line < 1 || e.line > len(lines) {
			return nil, fmt.Errorf("template %s: line %d is out of the file", t.Name, e.line)
		}
		line := lines[e.line-1]
		start := e.col - 1
		end, err := scalarEnd(line, start)
		if err != nil {
			return nil, fmt.Errorf("template %s:%d: %w", t.Name, e.line, err)
		}
		var b []byte
		b = append(b, line[:start]...)
		b = append(b, e.value...)
		b = append(b, line[end:]...)
		lines[e.line-1] = b
	}
	return bytes.Join(lines, nil), nil
}

// scalarEnd finds where the block scalar that starts at line[start] ends:
// its closing quote, or for a plain scalar the start of a comment or the
// end of the line.
func scalarEnd(line []byte, start int) (int, error) {
	if start < 0 || start >= len(line) {
		return 0, errors.New("the value is not where the parser put it")
	}
	switch line[start] {
	case '\'':
		for i := start + 1; i < len(line); i++ {
			if line[i] == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case '"':
		for i := start + 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	default:
		end := len(line)
		if i := bytes.Index(line[start:], []byte(" #")); i >= 0 {
			end = start + i
		}
		return start + len(bytes.TrimRight(line[start:end], " \t\r\n")), nil
	}
	return 0, errors.New("the value's closing quote is not on its line")
}

// Emails returns the library's email templates, for every shop that has
// none of the same name (catalog.Options.Templates).
func Emails() (*email.TemplateSet, error) {
	src, err := files.ReadFile(emailsFile)
	if err != nil {
		return nil, err
	}
	var m map[string]email.Template
	if err := yaml.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", emailsFile, err)
	}
	set := &email.TemplateSet{}
	for name, t := range m {
		if err := set.Add("", name, t); err != nil {
			return nil, fmt.Errorf("%s: %w", emailsFile, err)
		}
	}
	return set, nil
}

// EmailNames lists the library's email templates.
func EmailNames() ([]string, error) {
	src, err := files.ReadFile(emailsFile)
	if err != nil {
		return nil, err
	}
	var m map[string]yaml.Node
	if err := yaml.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", emailsFile, err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
