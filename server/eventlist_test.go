package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const ticketFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: ticket
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: ticket.opened}
do:
  - closed:
      listen:
        to:
          one:
            with: {type: ticket.closed}
            correlate:
              ticket:
                from: .data.ticket
                expect: ${ .ticket }
`

func TestEventsListShowsTheInstancesEachStartedAndResumed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/workflows", "application/yaml", ticketFlow)
	require.Equal(t, http.StatusCreated, status, body)
	ce := "application/cloudevents+json"
	for _, ev := range []string{
		`{"specversion":"1.0","id":"o1","source":"desk","type":"ticket.opened","subject":"t1","shop":"acme","data":{"ticket":"t1"}}`,
		`{"specversion":"1.0","id":"o2","source":"desk","type":"ticket.opened","subject":"t2","data":{"ticket":"t2","shop":"bolt"}}`,
		`{"specversion":"1.0","id":"c1","source":"desk","type":"ticket.closed","subject":"t1","shop":"acme","data":{"ticket":"t1"}}`,
	} {
		status, body, _ := a.do("POST", "/v1/events", ce, ev)
		require.Equal(t, http.StatusAccepted, status, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body, _ := a.do("GET", "/v1/instances?status=completed", "", "")
		if list, _ := body["instances"].([]any); len(list) == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "t1's instance completes")
		time.Sleep(20 * time.Millisecond)
	}

	list := func(query string) ([]map[string]any, any) {
		t.Helper()
		status, body, _ := a.do("GET", "/v1/events"+query, "", "")
		require.Equal(t, http.StatusOK, status, body)
		var out []map[string]any
		for _, e := range body["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out, body["next"]
	}
	id := func(e map[string]any) string { return e["event"].(map[string]any)["id"].(string) }
	names := func(field string, e map[string]any) []string {
		out := []string{}
		for _, in := range e[field].([]any) {
			m := in.(map[string]any)
			out = append(out, m["workflow"].(map[string]any)["name"].(string)+":"+m["status"].(string))
		}
		return out
	}

	desk, next := list("?type=ticket.opened")
	require.Nil(t, next, "one page")
	require.Len(t, desk, 2)
	require.Equal(t, []string{"o2", "o1"}, []string{id(desk[0]), id(desk[1])}, "newest first")
	require.Equal(t, []string{"ticket:waiting"}, names("started", desk[0]))
	require.Equal(t, []string{"ticket:completed"}, names("started", desk[1]))
	require.Empty(t, names("resumed", desk[1]))
	require.Equal(t, "bolt", desk[0]["shop"], "data.shop")

	acme, _ := list("?shop=acme")
	require.Len(t, acme, 2)
	require.Equal(t, "c1", id(acme[0]))
	require.Equal(t, []string{"ticket:completed"}, names("resumed", acme[0]), "the close resumed t1's instance")
	require.Empty(t, names("started", acme[0]))
	started := desk[1]["started"].([]any)[0].(map[string]any)["id"]
	require.Equal(t, started, acme[0]["resumed"].([]any)[0].(map[string]any)["id"], "the instance o1 started")

	bySubject, _ := list("?subject=t1&type=ticket.closed")
	require.Len(t, bySubject, 1)
	require.Equal(t, "c1", id(bySubject[0]))

	// Pages: next only while another page follows.
	var seen []string
	query := "?shop=acme&limit=1"
	for range 3 {
		page, next := list(query)
		for _, e := range page {
			seen = append(seen, id(e))
		}
		if next == nil {
			break
		}
		query = "?shop=acme&limit=1&after=" + next.(string)
	}
	require.Equal(t, []string{"c1", "o1"}, seen)
	page, next := list("?shop=acme&limit=2")
	require.Len(t, page, 2)
	require.Nil(t, next, "a last page that is full has no next")

	for q, detail := range map[string]string{
		"?limit=0":           "limit=\"0\": give a whole number from 1 to 1000",
		"?limit=1001":        "from 1 to 1000",
		"?limit=ten":         "whole number",
		"?after=-3":          "pass the next value of the previous page",
		"?after=abc":         "no position in the event log",
		"?typ=ticket.opened": `unknown parameter "typ"`,
		"?type=a&type=b":     "type is given 2 times; give it once",
		"?shop=acme&page=2":  `unknown parameter "page": filter with type, shop and subject, page with limit and after`,
	} {
		status, body, hdr := a.do("GET", "/v1/events"+q, "", "")
		require.Equal(t, http.StatusBadRequest, status, q)
		require.Equal(t, "application/problem+json", hdr.Get("Content-Type"), q)
		require.True(t, strings.Contains(body["detail"].(string), detail), "%s: %s", q, body["detail"])
	}
}
