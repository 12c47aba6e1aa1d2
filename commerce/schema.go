package commerce

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// Prefix starts every canonical event type.
const Prefix = "commerce."

//go:embed schemas/*.json
var schemaFiles embed.FS

// schemaBase names the embedded files for the compiler; .invalid never
// resolves, so nothing is ever fetched.
const schemaBase = "https://storeflow.invalid/schemas/commerce/"

// ErrUnknownType is returned by Validate for a type that is not canonical.
var ErrUnknownType = errors.New("not a canonical commerce event type")

type schemaSet struct {
	types    []string
	compiled map[string]*jsonschema.Schema
	docs     map[string]map[string]any // parsed schema documents, by type
	defs     map[string]any            // the $defs of defs.json
	err      error
}

var loadSchemas = sync.OnceValue(func() *schemaSet {
	set := &schemaSet{compiled: map[string]*jsonschema.Schema{}, docs: map[string]map[string]any{}}
	c := jsonschema.NewCompiler()
	entries, err := fs.ReadDir(schemaFiles, "schemas")
	if err != nil {
		set.err = err
		return set
	}
	for _, e := range entries {
		raw, err := schemaFiles.ReadFile("schemas/" + e.Name())
		if err != nil {
			set.err = err
			return set
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			set.err = fmt.Errorf("schema %s: %w", e.Name(), err)
			return set
		}
		if err := c.AddResource(schemaBase+e.Name(), doc); err != nil {
			set.err = fmt.Errorf("schema %s: %w", e.Name(), err)
			return set
		}
		m, _ := doc.(map[string]any)
		name := strings.TrimSuffix(e.Name(), ".json")
		if name == "defs" {
			set.defs, _ = m["$defs"].(map[string]any)
			continue
		}
		set.types = append(set.types, Prefix+name)
		set.docs[Prefix+name] = m
	}
	slices.Sort(set.types)
	for _, t := range set.types {
		s, err := c.Compile(schemaBase + strings.TrimPrefix(t, Prefix) + ".json")
		if err != nil {
			set.err = fmt.Errorf("schema of %s: %w", t, err)
			return set
		}
		set.compiled[t] = s
	}
	return set
})

func schemas() *schemaSet {
	s := loadSchemas()
	if s.err != nil {
		// The schemas are embedded and tested; a failure here is a build defect.
		panic("commerce: embedded schemas: " + s.err.Error())
	}
	return s
}

// Types lists the canonical event types, sorted.
func Types() []string { return slices.Clone(schemas().types) }

// IsCanonical reports whether typ is one of Types.
func IsCanonical(typ string) bool {
	_, ok := schemas().compiled[typ]
	return ok
}

// Schema returns the JSON Schema document of a canonical type as embedded
// (its $refs point into "defs.json", see SchemaFile).
func Schema(typ string) ([]byte, error) {
	if !IsCanonical(typ) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	return schemaFiles.ReadFile(path.Join("schemas", strings.TrimPrefix(typ, Prefix)+".json"))
}

// Example returns the example data the schema of typ carries.
func Example(typ string) (json.RawMessage, error) {
	if !IsCanonical(typ) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	ex, _ := schemas().docs[typ]["examples"].([]any)
	if len(ex) == 0 {
		return nil, fmt.Errorf("the schema of %s has no example", typ)
	}
	return json.Marshal(ex[0])
}

// Properties lists the top-level data properties of a canonical type, in
// the order of its schema file.
func Properties(typ string) ([]string, error) {
	raw, err := Schema(typ)
	if err != nil {
		return nil, err
	}
	return objectKeys(raw, "properties")
}

// objectKeys returns the keys of the object at member name of the JSON
// object raw, in document order (a decoded map would lose it).
func objectKeys(raw []byte, name string) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	member, ok := top[name]
	if !ok {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(member))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%s is not an object", name)
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// Validate checks the data of an event of a canonical type against its
// schema. data is JSON ([]byte or json.RawMessage), a decoded JSON value, or
// any value that marshals to JSON (such as Data). A violation is a
// *SchemaError naming each property path and what is wrong with it.
func Validate(typ string, data any) error {
	s, ok := schemas().compiled[typ]
	if !ok {
		return fmt.Errorf("%w: %q (known: %s)", ErrUnknownType, typ, strings.Join(schemas().types, ", "))
	}
	var raw []byte
	switch d := data.(type) {
	case []byte:
		raw = d
	case json.RawMessage:
		raw = d
	default:
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("data of %s: %w", typ, err)
		}
		raw = b
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return &SchemaError{Type: typ, Problems: []Problem{{Path: "", Message: "not JSON: " + err.Error()}}}
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("data of %s: %w", typ, err)
	}
	se := &SchemaError{Type: typ}
	collect(ve, &se.Problems)
	return se
}

// SchemaError lists why data does not match its type's schema.
type SchemaError struct {
	Type     string
	Problems []Problem
}

// Problem is one violation: Path is the JSON Pointer of the property ("" for
// the data itself), Message what is wrong.
type Problem struct {
	Path    string
	Message string
}

func (e *SchemaError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		where := p.Path
		if where == "" {
			where = "(data)"
		}
		parts[i] = where + ": " + p.Message
	}
	return fmt.Sprintf("data of %s does not match its schema: %s", e.Type, strings.Join(parts, "; "))
}

// collect keeps the leaves of the validator's error tree, where the
// messages are specific, once per path and message.
func collect(e *jsonschema.ValidationError, out *[]Problem) {
	if len(e.Causes) == 0 {
		p := Problem{Path: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)}
		if !slices.Contains(*out, p) {
			*out = append(*out, p)
		}
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
