package httpcall

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/storeflow/storeflow/problem"
)

func (c *Client) authorize(ctx context.Context, req *http.Request, a *Auth) error {
	if a == nil {
		return nil
	}
	switch {
	case a.Basic != nil:
		req.SetBasicAuth(a.Basic.Username, a.Basic.Password)
	case a.Bearer != nil:
		req.Header.Set("Authorization", "Bearer "+a.Bearer.Token)
	case a.OAuth2 != nil:
		tok, err := c.oauthToken(ctx, a.OAuth2, a.OIDC)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

func authProblem(format string, args ...any) *problem.Problem {
	return &problem.Problem{Type: problem.TypeAuthentication, Status: 401, Title: "Authentication Failed", Detail: fmt.Sprintf(format, args...)}
}

// oauthToken returns a cached token or requests one from the token endpoint.
func (c *Client) oauthToken(ctx context.Context, o *OAuth2, oidc bool) (string, error) {
	key := strings.Join([]string{o.Authority, o.Grant, o.ClientID, o.Username, strings.Join(o.Scopes, " "), strings.Join(o.Audiences, " ")}, "\x00")
	c.mu.Lock()
	if t, ok := c.tokens[key]; ok && time.Now().Before(t.expires) {
		c.mu.Unlock()
		return t.value, nil
	}
	c.mu.Unlock()

	endpoint, err := c.tokenEndpoint(ctx, o, oidc)
	if err != nil {
		return "", err
	}
	grant := o.Grant
	if grant == "" {
		grant = "client_credentials"
	}
	form := map[string]string{"grant_type": grant}
	if len(o.Scopes) > 0 {
		form["scope"] = strings.Join(o.Scopes, " ")
	}
	if len(o.Audiences) > 0 {
		form["audience"] = strings.Join(o.Audiences, " ")
	}
	if grant == "password" {
		form["username"], form["password"] = o.Username, o.Password
	}
	if o.ClientAuth != "client_secret_basic" && o.ClientID != "" {
		form["client_id"] = o.ClientID
		if o.ClientAuth != "none" && o.ClientSecret != "" {
			form["client_secret"] = o.ClientSecret
		}
	}
	var body io.Reader
	contentType := "application/x-www-form-urlencoded"
	if o.Encoding == "application/json" {
		data, _ := json.Marshal(form)
		body, contentType = strings.NewReader(string(data)), "application/json"
	} else {
		vals := url.Values{}
		for k, v := range form {
			vals.Set(k, v)
		}
		body = strings.NewReader(vals.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return "", authProblem("token endpoint %q is not a valid URI", endpoint)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if o.ClientAuth == "client_secret_basic" {
		req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	}
	resp, err := c.httpClient(true).Do(req)
	if err != nil {
		return "", authProblem("token request to %s failed: %v; check the authority", endpoint, err)
	}
	defer drain(resp)
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", authProblem("token endpoint %s answered %d: %s; check the client id, secret and grant", endpoint, resp.StatusCode, snippet(data))
	}
	var tr struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || tr.AccessToken == "" {
		return "", authProblem("token endpoint %s answered without an access_token", endpoint)
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	// Renew a little before expiry so that a token never dies mid-call.
	if ttl > time.Minute {
		ttl -= 30 * time.Second
	}
	c.mu.Lock()
	if c.tokens == nil {
		c.tokens = map[string]token{}
	}
	c.tokens[key] = token{value: tr.AccessToken, expires: time.Now().Add(ttl)}
	c.mu.Unlock()
	return tr.AccessToken, nil
}

func (c *Client) tokenEndpoint(ctx context.Context, o *OAuth2, oidc bool) (string, error) {
	base, err := url.Parse(o.Authority)
	if err != nil || base.Scheme == "" {
		return "", authProblem("authority %q is not an absolute URI", o.Authority)
	}
	if oidc {
		disc := strings.TrimSuffix(o.Authority, "/") + "/.well-known/openid-configuration"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, disc, nil)
		if err != nil {
			return "", authProblem("discovery URI %q is invalid", disc)
		}
		resp, err := c.httpClient(true).Do(req)
		if err != nil {
			return "", authProblem("OpenID discovery at %s failed: %v", disc, err)
		}
		defer drain(resp)
		var doc struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc) != nil || doc.TokenEndpoint == "" {
			return "", authProblem("OpenID discovery at %s gave no token_endpoint (status %d)", disc, resp.StatusCode)
		}
		return doc.TokenEndpoint, nil
	}
	ep := o.TokenEndpoint
	if ep == "" {
		ep = "/oauth2/token"
	}
	ref, err := url.Parse(ep)
	if err != nil {
		return "", authProblem("token endpoint %q is invalid", ep)
	}
	if ref.IsAbs() {
		return ref.String(), nil
	}
	// A relative endpoint extends the authority's path.
	joined := *base
	joined.Path = strings.TrimSuffix(base.Path, "/") + "/" + strings.TrimPrefix(ref.Path, "/")
	return joined.String(), nil
}

// digestAuthorize answers an RFC 7616 Digest challenge (MD5 or SHA-256, qop=auth).
func digestAuthorize(req *http.Request, cred *BasicAuth, challenge string) error {
	if !strings.HasPrefix(strings.ToLower(challenge), "digest ") {
		return fmt.Errorf("the server did not send a Digest challenge (WWW-Authenticate: %q)", challenge)
	}
	params := parseAuthParams(challenge[len("digest "):])
	realm, nonce := params["realm"], params["nonce"]
	if nonce == "" {
		return fmt.Errorf("the Digest challenge has no nonce")
	}
	var h func() hash.Hash
	algo := params["algorithm"]
	switch strings.ToUpper(algo) {
	case "", "MD5":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		return fmt.Errorf("digest algorithm %q is not supported (MD5 and SHA-256 are)", algo)
	}
	sum := func(s string) string {
		x := h()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	uri := req.URL.RequestURI()
	ha1 := sum(cred.Username + ":" + realm + ":" + cred.Password)
	ha2 := sum(req.Method + ":" + uri)
	cnonceBytes := make([]byte, 8)
	_, _ = rand.Read(cnonceBytes)
	cnonce := hex.EncodeToString(cnonceBytes)
	nc := "00000001"
	var response, qopPart string
	if qop := params["qop"]; qop != "" {
		response = sum(strings.Join([]string{ha1, nonce, nc, cnonce, "auth", ha2}, ":"))
		qopPart = fmt.Sprintf(`, qop=auth, nc=%s, cnonce="%s"`, nc, cnonce)
	} else {
		response = sum(ha1 + ":" + nonce + ":" + ha2)
	}
	header := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"%s`, cred.Username, realm, nonce, uri, response, qopPart)
	if algo != "" {
		header += ", algorithm=" + algo
	}
	if op := params["opaque"]; op != "" {
		header += fmt.Sprintf(`, opaque="%s"`, op)
	}
	req.Header.Set("Authorization", header)
	return nil
}

func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:end+1], s[end+2:]
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				val, s = s, ""
			} else {
				val, s = s[:end], s[end:]
			}
		}
		out[key] = strings.TrimSpace(val)
	}
	return out
}
