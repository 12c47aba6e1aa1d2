package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Field is one field of a simple form: what the person answering fills in.
type Field struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// Type is one of FieldTypes; text when not given.
	Type     string `json:"type,omitempty"`
	Required bool   `json:"required,omitempty"`
	// Options are the choices of a choice field.
	Options []string `json:"options,omitempty"`
}

// FieldTypes are the types a field may have.
var FieldTypes = []string{"text", "number", "integer", "boolean", "date", "datetime", "email", "choice"}

// Form is what an answer must be: a JSON Schema, made from a field list
// or given whole. Fields are kept for whoever draws the form.
type Form struct {
	Fields []Field         `json:"fields,omitempty"`
	Schema json.RawMessage `json:"schema"`
	schema *jsonschema.Schema
}

var fieldNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// anyObject is the form of a task that names none: any object answers it.
const anyObject = `{"type": "object"}`

// ParseForm reads a task's form: a list of fields, or a JSON Schema (an
// object) the answer must satisfy; nothing gives a form any object fits.
func ParseForm(raw json.RawMessage) (*Form, error) {
	raw = bytes.TrimSpace(raw)
	f := &Form{}
	switch {
	case len(raw) == 0 || string(raw) == "null":
		f.Schema = json.RawMessage(anyObject)
	case raw[0] == '[':
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f.Fields); err != nil {
			return nil, fmt.Errorf("form: a field list is [{name, label, type, required, options}]: %v", err)
		}
		schema, err := fieldSchema(f.Fields)
		if err != nil {
			return nil, err
		}
		f.Schema = schema
	case raw[0] == '{':
		f.Schema = append(json.RawMessage(nil), raw...)
	default:
		return nil, errors.New("form: give a list of fields or a JSON Schema of the answer (an object)")
	}
	if err := f.compile(); err != nil {
		return nil, err
	}
	return f, nil
}

// fieldSchema is the JSON Schema of an answer to a field list: an object
// with those fields and no others.
func fieldSchema(fields []Field) (json.RawMessage, error) {
	if len(fields) == 0 {
		return nil, errors.New("form: a field list needs at least one field")
	}
	props := map[string]any{}
	var required []string
	for i, fd := range fields {
		if !fieldNameRe.MatchString(fd.Name) {
			return nil, fmt.Errorf("form: field %d: name %q: letters, digits and _, starting with a letter or _", i, fd.Name)
		}
		if _, dup := props[fd.Name]; dup {
			return nil, fmt.Errorf("form: field %q is given twice", fd.Name)
		}
		var p map[string]any
		switch fd.Type {
		case "", "text":
			p = map[string]any{"type": "string"}
		case "number", "integer", "boolean":
			p = map[string]any{"type": fd.Type}
		case "date":
			p = map[string]any{"type": "string", "format": "date"}
		case "datetime":
			p = map[string]any{"type": "string", "format": "date-time"}
		case "email":
			p = map[string]any{"type": "string", "format": "email"}
		case "choice":
			if len(fd.Options) == 0 {
				return nil, fmt.Errorf("form: field %q: a choice needs options", fd.Name)
			}
			p = map[string]any{"enum": fd.Options}
		default:
			return nil, fmt.Errorf("form: field %q: type %q: use one of %s", fd.Name, fd.Type, strings.Join(FieldTypes, ", "))
		}
		if fd.Type != "choice" && len(fd.Options) > 0 {
			return nil, fmt.Errorf("form: field %q: options are for choice fields", fd.Name)
		}
		if fd.Label != "" {
			p["title"] = fd.Label
		}
		props[fd.Name] = p
		if fd.Required {
			required = append(required, fd.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return json.Marshal(s)
}

// noLoader refuses every $ref outside the form's own schema: a form must
// not make storeflow read files or fetch URLs.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("a form's schema cannot refer to %s: put everything in the schema itself", url)
}

const formURL = "storeflow:task/form.json"

func (f *Form) compile() error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(f.Schema))
	if err != nil {
		return fmt.Errorf("form: the schema is not JSON: %v", err)
	}
	if m, ok := doc.(map[string]any); !ok || (m["type"] != nil && m["type"] != "object") {
		return errors.New(`form: an answer is an object: give the schema "type": "object"`)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	if err := c.AddResource(formURL, doc); err != nil {
		return fmt.Errorf("form: %v", err)
	}
	if f.schema, err = c.Compile(formURL); err != nil {
		return fmt.Errorf("form: the schema is not valid: %v", err)
	}
	return nil
}

// Problem is one thing wrong with an answer, at a field.
type Problem struct {
	// Field is the JSON Pointer of the value in the answer ("" for the
	// answer as a whole, "/amount" for a field).
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return strings.TrimPrefix(p.Field, "/") + ": " + p.Message
}

// InvalidAnswer is an answer the form refuses, with every problem.
type InvalidAnswer struct {
	Problems []Problem
}

func (e *InvalidAnswer) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "the answer does not fit the task's form: " + strings.Join(parts, "; ")
}

var printer = message.NewPrinter(language.English)

// Check validates an answer against the form; a misfit is *InvalidAnswer.
func (f *Form) Check(answer map[string]any) error {
	if f.schema == nil {
		if err := f.compile(); err != nil {
			return err
		}
	}
	// The validator wants plain JSON values.
	b, err := json.Marshal(answer)
	if err != nil {
		return &InvalidAnswer{Problems: []Problem{{Message: err.Error()}}}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return &InvalidAnswer{Problems: []Problem{{Message: err.Error()}}}
	}
	err = f.schema.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &InvalidAnswer{Problems: []Problem{{Message: err.Error()}}}
	}
	var leaves []*jsonschema.ValidationError
	collect(ve, &leaves)
	var out []Problem
	for _, l := range leaves {
		field := pointer(l.InstanceLocation)
		msg := l.ErrorKind.LocalizedString(printer)
		switch k := l.ErrorKind.(type) {
		case *kind.Required:
			// Each missing field is a problem of its own, at that field.
			for _, m := range k.Missing {
				out = append(out, Problem{Field: field + "/" + m, Message: "required"})
			}
			continue
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, Problem{Field: field + "/" + p, Message: "not a field of the form"})
			}
			continue
		}
		out = append(out, Problem{Field: field, Message: msg})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	out = slices.Compact(out)
	return &InvalidAnswer{Problems: out}
}

func collect(e *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	if len(e.Causes) == 0 {
		*out = append(*out, e)
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
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
