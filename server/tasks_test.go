package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/server"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
)

const quoteFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: quote
  version: '1.0.0'
do:
  - approve:
      call: task.create
      with:
        shop: acme
        title: ${ "Approve quote " + .quote }
        role: sales-manager
        data: ${ . }
        due: ${ .due }
        form:
          - {name: approved, type: boolean, required: true}
          - {name: discount, type: integer}
      output:
        as: '${ {decision: .status, approved: .answer.approved, discount: .answer.discount, by: .by, reason: .reason} }'
`

// newTaskAPI serves the API over a durable runtime whose task.create
// opens tasks in st.
func newTaskAPI(t *testing.T, st store.Store) *api {
	t.Helper()
	users := &user.Directory{Store: st, KDF: cheapKDF}
	svc := &task.Service{Store: st, Users: users, Origins: sending.StoreOrigins{Instances: st}}
	rt := runtime.New(runtime.Options{Store: st, Shards: 4, Connectors: catalog.Default(catalog.Options{Tasks: svc})})
	svc.Wake = rt.Wake
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	srv := httptest.NewServer(server.New(server.Config{Runtime: rt, Store: st, Tokens: []string{"admin-token"}, Users: users, Tasks: svc}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return &api{t: t, srv: srv, st: st, rt: rt}
}

var taskStores = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	},
	"postgres": func(t *testing.T) store.Store {
		_, url := pgtest.Schema(t)
		st, err := postgres.Open(context.Background(), url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	},
}

// An approval end to end over the API: a workflow opens a task and
// waits; people log in, see what is theirs, claim it, answer it (a bad
// answer is refused with what is wrong), and the workflow goes on with
// the answer.
func TestApprovalThroughTheAPI(t *testing.T) {
	t.Parallel()
	for name, open := range taskStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := newTaskAPI(t, open(t))
			admin := []string{"Authorization", "Bearer admin-token"}
			for _, u := range []string{
				`{"id":"alice","password":"alice's long password","roles":{"acme":["sales-manager"]}}`,
				`{"id":"sam","password":"sam's long password","roles":{"acme":["sales-manager"]}}`,
				`{"id":"bob","password":"bob's long password","roles":{"acme":["warehouse"]}}`,
				`{"id":"mia","password":"mia's long password","roles":{"acme":["admin"]}}`,
			} {
				status, body, _ := a.do("POST", "/v1/users", "application/json", u, admin...)
				require.Equal(t, http.StatusCreated, status, body)
			}
			as := map[string][]string{}
			for _, id := range []string{"alice", "sam", "bob", "mia"} {
				status, body, _ := a.do("POST", "/v1/login", "application/json", `{"user":"`+id+`","password":"`+id+`'s long password"}`)
				require.Equal(t, http.StatusOK, status, body)
				as[id] = []string{"Authorization", "Bearer " + body["token"].(string)}
			}
			status, body, _ := a.do("POST", "/v1/workflows", "application/yaml", quoteFlow, admin...)
			require.Equal(t, http.StatusCreated, status, body)
			start := func(quote, due string) string {
				status, body, _ := a.do("POST", "/v1/instances", "application/json", `{"workflow":{"namespace":"shop","name":"quote"},"input":{"quote":"`+quote+`","due":"`+due+`"}}`, admin...)
				require.Equal(t, http.StatusCreated, status, body)
				return body["id"].(string)
			}
			first, late := start("q-7", "PT4H"), start("q-8", "2026-01-01T00:00:00Z")
			tasks := func(path string, who []string) []map[string]any {
				status, body, _ := a.do("GET", path, "", "", who...)
				require.Equal(t, http.StatusOK, status, body)
				var out []map[string]any
				for _, x := range body["tasks"].([]any) {
					out = append(out, x.(map[string]any))
				}
				return out
			}
			require.Eventually(t, func() bool { return len(tasks("/v1/tasks", as["alice"])) == 2 }, 30*time.Second, 20*time.Millisecond)
			byQuote := map[string]string{}
			for _, x := range tasks("/v1/tasks", admin) {
				byQuote[x["data"].(map[string]any)["quote"].(string)] = x["id"].(string)
			}
			q7, q8 := byQuote["q-7"], byQuote["q-8"]

			steps := []struct {
				name   string
				method string
				path   string
				body   string
				who    []string
				status int
				want   string // in the detail
			}{
				{"bob sees none of them", "GET", "/v1/tasks/" + q7, "", as["bob"], 404, "not yours"},
				{"no token", "GET", "/v1/tasks", "", nil, 401, "API token"},
				{"a made-up login token", "GET", "/v1/tasks", "", []string{"Authorization", "Bearer sfu_nothing"}, 401, "log in again"},
				{"the API token cannot act", "POST", "/v1/tasks/" + q7 + "/claim", "", admin, 401, "records who did it"},
				{"alice claims q-7", "POST", "/v1/tasks/" + q7 + "/claim", "", as["alice"], 200, ""},
				{"sam may not answer it", "POST", "/v1/tasks/" + q7 + "/complete", `{"answer":{"approved":true}}`, as["sam"], 409, "claimed by alice"},
				{"a bad answer", "POST", "/v1/tasks/" + q7 + "/complete", `{"answer":{"approved":"yes","discount":2.5,"extra":1}}`, as["alice"], 422, "3 problem(s)"},
				{"not an answer at all", "POST", "/v1/tasks/" + q7 + "/complete", `{"approved":true}`, as["alice"], 400, `unknown field "approved"`},
				{"alice answers", "POST", "/v1/tasks/" + q7 + "/complete", `{"answer":{"approved":true,"discount":5}}`, as["alice"], 200, ""},
				{"answered already", "POST", "/v1/tasks/" + q7 + "/reassign", `{"role":"admin"}`, as["alice"], 409, "completed already, by alice"},
				{"a reassignment to nobody", "POST", "/v1/tasks/" + q8 + "/reassign", `{"user":"nobody"}`, as["mia"], 422, `"nobody" is no user of shop acme`},
				{"the admin rejects q-8", "POST", "/v1/tasks/" + q8 + "/reject", `{"reason":"below our margin"}`, as["mia"], 200, ""},
			}
			for _, s := range steps {
				status, body, _ := a.do(s.method, s.path, "application/json", s.body, s.who...)
				require.Equal(t, s.status, status, "%s: %v", s.name, body)
				if s.want != "" {
					require.Contains(t, body["detail"], s.want, s.name)
				}
				if s.name == "a bad answer" {
					require.Equal(t, []any{
						map[string]any{"field": "/approved", "message": "got string, want boolean"},
						map[string]any{"field": "/discount", "message": "got number, want integer"},
						map[string]any{"field": "/extra", "message": "not a field of the form"},
					}, body["errors"], "each problem at its field")
				}
			}

			ended := func(id string) map[string]any {
				var body map[string]any
				require.Eventually(t, func() bool {
					_, body, _ = a.do("GET", "/v1/instances/"+id, "", "", admin...)
					return body["status"] == "completed" || body["status"] == "faulted"
				}, 30*time.Second, 20*time.Millisecond, "the answer resumes %s", id)
				require.Equal(t, "completed", body["status"], body)
				return body["output"].(map[string]any)
			}
			require.Equal(t, map[string]any{"decision": "completed", "approved": true, "discount": float64(5), "by": "alice", "reason": nil}, ended(first))
			require.Equal(t, map[string]any{"decision": "rejected", "approved": nil, "discount": nil, "by": "mia", "reason": "below our margin"}, ended(late))

			status, body, _ = a.do("GET", "/v1/tasks/"+q7, "", "", as["alice"]...)
			require.Equal(t, http.StatusOK, status)
			var hist []string
			for _, h := range body["history"].([]any) {
				e := h.(map[string]any)
				by, _ := e["by"].(string)
				hist = append(hist, e["action"].(string)+"/"+by)
				_, err := time.Parse(time.RFC3339Nano, e["at"].(string))
				require.NoError(t, err, "every action has its time")
			}
			require.Equal(t, []string{"created/", "claimed/alice", "completed/alice"}, hist)

			require.Empty(t, tasks("/v1/tasks", as["alice"]), "nothing open is left")
			require.Len(t, tasks("/v1/tasks?status=all&mine=1", as["alice"]), 1, "hers: the one she claimed")
			require.Len(t, tasks("/v1/tasks?status=rejected", as["mia"]), 1)
			require.Len(t, tasks("/v1/tasks?status=all&role=sales-manager&shop=acme", admin), 2)
			status, _, _ = a.do("GET", "/v1/tasks?mine=yes", "", "", as["alice"]...)
			require.Equal(t, http.StatusBadRequest, status)

			status, _, _ = a.do("POST", "/v1/logout", "", "", as["alice"]...)
			require.Equal(t, http.StatusNoContent, status)
			status, _, _ = a.do("GET", "/v1/tasks", "", "", as["alice"]...)
			require.Equal(t, http.StatusUnauthorized, status, "logged out")
		})
	}
}

// Overdue tasks are those past their due date and still open.
func TestOverdueTasks(t *testing.T) {
	t.Parallel()
	a := newTaskAPI(t, taskStores["sqlite"](t))
	admin := []string{"Authorization", "Bearer admin-token"}
	status, body, _ := a.do("POST", "/v1/users", "application/json", `{"id":"alice","roles":{"acme":["sales-manager"]}}`, admin...)
	require.Equal(t, http.StatusCreated, status, body)
	status, body, _ = a.do("POST", "/v1/workflows", "application/yaml", quoteFlow, admin...)
	require.Equal(t, http.StatusCreated, status, body)
	for _, in := range []string{`{"quote":"soon","due":"PT4H"}`, `{"quote":"late","due":"2026-01-01T00:00:00Z"}`} {
		status, body, _ := a.do("POST", "/v1/instances", "application/json", `{"workflow":{"namespace":"shop","name":"quote"},"input":`+in+`}`, admin...)
		require.Equal(t, http.StatusCreated, status, body)
	}
	require.Eventually(t, func() bool {
		_, body, _ := a.do("GET", "/v1/tasks", "", "", admin...)
		return len(body["tasks"].([]any)) == 2
	}, 30*time.Second, 20*time.Millisecond)
	_, body, _ = a.do("GET", "/v1/tasks?overdue=1", "", "", admin...)
	list := body["tasks"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "Approve quote late", list[0].(map[string]any)["title"])
	require.Equal(t, true, list[0].(map[string]any)["overdue"])
}
