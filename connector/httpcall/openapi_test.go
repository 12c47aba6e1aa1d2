package httpcall_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/problem"
)

func apiServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/swagger.json":
			_, _ = w.Write([]byte(`{"swagger":"2.0","basePath":"/v2","schemes":["http"],"paths":{
				"/pet/findByStatus":{"get":{"operationId":"findPetsByStatus","parameters":[{"name":"status","in":"query","required":true}]}},
				"/pet/{petId}":{"parameters":[{"name":"petId","in":"path","required":true}],"get":{"operationId":"getPetById"}},
				"/pet":{"post":{"operationId":"addPet","parameters":[{"name":"body","in":"body","required":true}]}}}}`))
		case "/openapi.yaml":
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write([]byte("openapi: 3.0.0\nservers:\n  - url: /api/v3\npaths:\n  /orders/{id}:\n    put:\n      operationId: updateOrder\n      parameters:\n        - {name: id, in: path, required: true}\n        - {name: X-Shop, in: header}\n      requestBody: {content: {application/json: {}}}\n"))
		default:
			var body any
			_ = json.NewDecoder(r.Body).Decode(&body)
			_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": body, "shop": r.Header.Get("X-Shop")})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDoOpenAPI(t *testing.T) {
	t.Parallel()
	srv := apiServer(t)
	c := &httpcall.Client{}
	ctx := context.Background()

	out, err := c.DoOpenAPI(ctx, httpcall.OpenAPIRequest{DocumentURI: srv.URL + "/swagger.json", OperationID: "findPetsByStatus", Parameters: map[string]any{"status": []any{"available", "sold"}}})
	require.NoError(t, err)
	require.Equal(t, "/v2/pet/findByStatus", out.(map[string]any)["path"])
	require.Equal(t, "status=available&status=sold", out.(map[string]any)["query"])

	out, err = c.DoOpenAPI(ctx, httpcall.OpenAPIRequest{DocumentURI: srv.URL + "/swagger.json", OperationID: "getPetById", Parameters: map[string]any{"petId": 7}})
	require.NoError(t, err)
	require.Equal(t, "/v2/pet/7", out.(map[string]any)["path"])

	out, err = c.DoOpenAPI(ctx, httpcall.OpenAPIRequest{DocumentURI: srv.URL + "/swagger.json", OperationID: "addPet", Parameters: map[string]any{"body": map[string]any{"name": "Rex"}}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"name": "Rex"}, out.(map[string]any)["body"])

	out, err = c.DoOpenAPI(ctx, httpcall.OpenAPIRequest{DocumentURI: srv.URL + "/openapi.yaml", OperationID: "updateOrder", Parameters: map[string]any{"id": "o-1", "X-Shop": "demo", "status": "paid"}})
	require.NoError(t, err)
	m := out.(map[string]any)
	require.Equal(t, "PUT", m["method"])
	require.Equal(t, "/api/v3/orders/o-1", m["path"])
	require.Equal(t, "demo", m["shop"])
	require.Equal(t, map[string]any{"status": "paid"}, m["body"])

	_, err = c.DoOpenAPI(ctx, httpcall.OpenAPIRequest{DocumentURI: srv.URL + "/swagger.json", OperationID: "getPetByID"})
	var p *problem.Problem
	require.True(t, errors.As(err, &p))
	require.Contains(t, p.Detail, "getPetById")

	_, err = c.DoOpenAPI(ctx, httpcall.OpenAPIRequest{DocumentURI: srv.URL + "/swagger.json", OperationID: "getPetById"})
	require.True(t, errors.As(err, &p))
	require.Equal(t, problem.TypeValidation, p.Type)
	require.Contains(t, p.Detail, "petId")
}
