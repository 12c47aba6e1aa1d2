package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/store"
)

// Template is a named message of a shop. Subject and Text are Go
// text/template, HTML is html/template (values are escaped for HTML). A
// template may leave out the subject, when every call gives one, and one of
// the bodies.
//
// Templates see the call's `data` at the top level, the `customer` and
// `event` arguments as .customer and .event (empty when not given) and, on
// marketing mail, the one-click unsubscribe link as .unsubscribeUrl. A key
// a template names but the data lacks is an error, never an empty or
// "<no value>" hole in a customer's mail: write an optional field as
// {{or (index .customer "firstName") "there"}}.
type Template struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// ErrNoTemplate is what a Templates returns for a name it does not hold.
var ErrNoTemplate = errors.New("no such template")

// Templates finds a shop's named templates. The lookup is behind this
// interface so that templates can live in the store as well as in
// configuration (TemplateSet).
type Templates interface {
	// Template returns the shop's template of that name, or an error
	// wrapping ErrNoTemplate.
	Template(ctx context.Context, shop, name string) (Template, error)
}

// TemplateSet holds templates in memory, by shop and name. Templates of
// the shop "" serve every shop that has none of that name. It is safe for
// concurrent use.
type TemplateSet struct {
	mu sync.RWMutex
	m  map[[2]string]Template
}

// Add parses a template and adds it, replacing one of the same shop and
// name. A template that does not parse is refused.
func (s *TemplateSet) Add(shop, name string, t Template) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("add template: a name is required")
	}
	if t.Text == "" && t.HTML == "" {
		return fmt.Errorf("add template %q: it needs a text or an HTML body", name)
	}
	if _, err := parse(name, t); err != nil {
		return fmt.Errorf("add template: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[2]string]Template{}
	}
	s.m[[2]string{shop, name}] = t
	return nil
}

// Template implements Templates.
func (s *TemplateSet) Template(_ context.Context, shop, name string) (Template, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t, ok := s.m[[2]string{shop, name}]; ok {
		return t, nil
	}
	if t, ok := s.m[[2]string{"", name}]; ok {
		return t, nil
	}
	return Template{}, fmt.Errorf("template %q of shop %q: %w", name, shop, ErrNoTemplate)
}

// parsed is a template ready to execute; a nil part is absent.
type parsed struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

// parse parses a template's parts, naming each in errors ("welcome
// (html)").
func parse(name string, t Template) (*parsed, error) {
	var p parsed
	var err error
	if t.Subject != "" {
		if p.subject, err = texttemplate.New(name + " (subject)").Option("missingkey=error").Parse(t.Subject); err != nil {
			return nil, err
		}
	}
	if t.Text != "" {
		if p.text, err = texttemplate.New(name + " (text)").Option("missingkey=error").Parse(t.Text); err != nil {
			return nil, err
		}
	}
	if t.HTML != "" {
		if p.html, err = htmltemplate.New(name + " (html)").Option("missingkey=error").Parse(t.HTML); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// execute renders the parts that are present.
func (p *parsed) execute(data map[string]any) (Template, error) {
	var out Template
	var err error
	if p.subject != nil {
		if out.Subject, err = run(p.subject.Execute, data); err != nil {
			return out, err
		}
	}
	if p.text != nil {
		if out.Text, err = run(p.text.Execute, data); err != nil {
			return out, err
		}
	}
	if p.html != nil {
		if out.HTML, err = run(p.html.Execute, data); err != nil {
			return out, err
		}
	}
	return out, nil
}

func run(exec func(io.Writer, any) error, data map[string]any) (string, error) {
	var b bytes.Buffer
	if err := exec(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// ShopTemplates finds templates in the shops' configurations
// (shop.Shop.EmailTemplates), then in Fallback (storeflow's own, shared by
// every shop).
type ShopTemplates struct {
	Shops    shopconfig.Func
	Fallback Templates
}

// Template implements Templates.
func (s ShopTemplates) Template(ctx context.Context, shopID, name string) (Template, error) {
	if s.Shops != nil && shopID != "" {
		sh, err := s.Shops(ctx, shopID)
		if err == nil {
			if t, ok := sh.EmailTemplates[name]; ok {
				return Template{Subject: t.Subject, Text: t.Text, HTML: t.HTML}, nil
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return Template{}, fmt.Errorf("template %q of shop %q: %w", name, shopID, err)
		}
	}
	if s.Fallback != nil {
		return s.Fallback.Template(ctx, shopID, name)
	}
	return Template{}, fmt.Errorf("template %q of shop %q: %w; add it to the shop's emailTemplates", name, shopID, ErrNoTemplate)
}
