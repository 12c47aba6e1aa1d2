package httpcall

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/storeflow/storeflow/problem"
)

// OpenAPIRequest is a resolved `call: openapi`.
type OpenAPIRequest struct {
	DocumentURI    string         `json:"documentUri"`
	OperationID    string         `json:"operationId"`
	Parameters     map[string]any `json:"parameters,omitempty"`
	Output         string         `json:"output,omitempty"`
	Redirect       bool           `json:"redirect,omitempty"`
	Auth           *Auth          `json:"auth,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
}

// apiDoc is the part of an OpenAPI (3.x) or Swagger (2.0) document a call needs.
type apiDoc struct {
	baseURL    string
	operations map[string]*operation
}

type operation struct {
	method, path string
	params       []apiParam
	hasBody      bool // OAS3 requestBody
}

type apiParam struct {
	name, in string
	required bool
}

// DoOpenAPI finds the operation in the document and performs it.
func (c *Client) DoOpenAPI(ctx context.Context, r OpenAPIRequest) (any, error) {
	doc, err := c.document(ctx, r.DocumentURI, r.Auth)
	if err != nil {
		return nil, err
	}
	op, ok := doc.operations[r.OperationID]
	if !ok {
		ids := make([]string, 0, len(doc.operations))
		for id := range doc.operations {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Unknown Operation",
			Detail: fmt.Sprintf("operation %q is not in %s; it has %s", r.OperationID, r.DocumentURI, strings.Join(ids, ", "))}
	}
	req, err := op.request(doc.baseURL, r.Parameters)
	if err != nil {
		return nil, err
	}
	req.Output, req.Redirect, req.Auth, req.IdempotencyKey = r.Output, r.Redirect, r.Auth, r.IdempotencyKey
	return c.Do(ctx, req)
}

func (op *operation) request(base string, params map[string]any) (Request, error) {
	req := Request{Method: op.method, Headers: map[string]string{}, Query: map[string]string{}}
	path := op.path
	used := map[string]bool{}
	var missing []string
	var query url.Values = url.Values{}
	for _, p := range op.params {
		v, ok := params[p.name]
		if !ok || v == nil {
			if p.required {
				missing = append(missing, p.name)
			}
			continue
		}
		used[p.name] = true
		switch p.in {
		case "path":
			path = strings.ReplaceAll(path, "{"+p.name+"}", url.PathEscape(scalar(v)))
		case "query":
			if list, ok := v.([]any); ok {
				for _, el := range list {
					query.Add(p.name, scalar(el))
				}
			} else {
				query.Set(p.name, scalar(v))
			}
		case "header":
			req.Headers[p.name] = scalar(v)
		case "cookie":
			req.Headers["Cookie"] = strings.TrimPrefix(req.Headers["Cookie"]+"; "+p.name+"="+url.QueryEscape(scalar(v)), "; ")
		case "body":
			req.Body = v
		case "formData":
			req.Body = v
		}
	}
	if len(missing) > 0 {
		return req, &problem.Problem{Type: problem.TypeValidation, Status: 400, Title: "Missing Parameters",
			Detail: fmt.Sprintf("operation needs the parameters %s", strings.Join(missing, ", "))}
	}
	if op.hasBody && req.Body == nil {
		if b, ok := params["body"]; ok {
			req.Body = b
		} else {
			rest := map[string]any{}
			for k, v := range params {
				if !used[k] {
					rest[k] = v
				}
			}
			if len(rest) > 0 {
				req.Body = rest
			}
		}
	}
	uri := strings.TrimSuffix(base, "/") + path
	if len(query) > 0 {
		uri += "?" + query.Encode()
	}
	req.URI = uri
	return req, nil
}

func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(b), `"`)
}

// document fetches and indexes an API document once per URI.
func (c *Client) document(ctx context.Context, uri string, auth *Auth) (*apiDoc, error) {
	c.mu.Lock()
	if d, ok := c.docs[uri]; ok {
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Invalid Document URI", Detail: err.Error()}
	}
	req.Header.Set("Accept", "application/json, application/yaml;q=0.9")
	if err := c.authorize(ctx, req, auth); err != nil {
		return nil, err
	}
	resp, err := c.httpClient(true).Do(req)
	if err != nil {
		u, _ := url.Parse(uri)
		return nil, transportProblem(http.MethodGet, u, err)
	}
	defer drain(resp)
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, &problem.Problem{Type: problem.TypeCommunication, Status: max(resp.StatusCode, 500), Title: "API Document Unavailable",
			Detail: fmt.Sprintf("GET %s answered %d", uri, resp.StatusCode)}
	}
	d, err := parseAPIDoc(uri, data)
	if err != nil {
		return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Invalid API Document", Detail: fmt.Sprintf("%s: %v", uri, err)}
	}
	c.mu.Lock()
	if c.docs == nil {
		c.docs = map[string]*apiDoc{}
	}
	c.docs[uri] = d
	c.mu.Unlock()
	return d, nil
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseAPIDoc(docURI string, data []byte) (*apiDoc, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("neither JSON nor YAML: %w", err)
		}
	}
	docURL, err := url.Parse(docURI)
	if err != nil {
		return nil, err
	}
	d := &apiDoc{operations: map[string]*operation{}}
	switch {
	case raw["swagger"] != nil:
		scheme := docURL.Scheme
		if schemes, ok := raw["schemes"].([]any); ok && len(schemes) > 0 {
			scheme = fmt.Sprint(schemes[0])
			for _, s := range schemes {
				if s == docURL.Scheme {
					scheme = docURL.Scheme
				}
			}
		}
		host := docURL.Host
		if h, ok := raw["host"].(string); ok && h != "" {
			host = h
		}
		basePath, _ := raw["basePath"].(string)
		d.baseURL = scheme + "://" + host + basePath
	case raw["openapi"] != nil:
		d.baseURL = docURL.Scheme + "://" + docURL.Host
		if servers, ok := raw["servers"].([]any); ok && len(servers) > 0 {
			if s, ok := servers[0].(map[string]any); ok {
				if u, ok := s["url"].(string); ok {
					ref, err := url.Parse(u)
					if err == nil {
						d.baseURL = docURL.ResolveReference(ref).String()
					}
				}
			}
		}
	default:
		return nil, fmt.Errorf("not an OpenAPI or Swagger document (no \"openapi\" or \"swagger\" version)")
	}
	paths, _ := raw["paths"].(map[string]any)
	for path, item := range paths {
		pi, ok := item.(map[string]any)
		if !ok {
			continue
		}
		shared := params(pi["parameters"])
		for _, m := range httpMethods {
			o, ok := pi[m].(map[string]any)
			if !ok {
				continue
			}
			id, _ := o["operationId"].(string)
			if id == "" {
				continue
			}
			op := &operation{method: strings.ToUpper(m), path: path, params: mergeParams(shared, params(o["parameters"])), hasBody: o["requestBody"] != nil}
			d.operations[id] = op
		}
	}
	return d, nil
}

func params(v any) []apiParam {
	list, _ := v.([]any)
	var out []apiParam
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		in, _ := m["in"].(string)
		req, _ := m["required"].(bool)
		if name != "" {
			out = append(out, apiParam{name: name, in: in, required: req || in == "path"})
		}
	}
	return out
}

// mergeParams lets operation parameters override path-level ones.
func mergeParams(shared, own []apiParam) []apiParam {
	out := append([]apiParam{}, own...)
	for _, s := range shared {
		dup := false
		for _, o := range own {
			dup = dup || o.name == s.name && o.in == s.in
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}
