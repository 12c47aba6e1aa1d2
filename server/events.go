package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/store"
)

// postEvents accepts CloudEvents 1.0 in structured, batch and binary HTTP
// modes. 202 means every event in the request is durable.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request Too Large", fmt.Sprintf("the body exceeds %d bytes; send fewer events per batch", s.cfg.MaxBody))
			return
		}
		writeProblem(w, r, http.StatusBadRequest, "Unreadable Body", err.Error())
		return
	}
	events, err := DecodeEvents(r.Header, body)
	if err == nil {
		err = checkCommerce(events)
	}
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid CloudEvent", err.Error())
		return
	}
	stored, err := s.cfg.Runtime.Ingest(r.Context(), events)
	if err != nil {
		storeError(w, r, err)
		return
	}
	// Typed rather than maps: every ingested event passes here.
	type logged struct {
		Duplicate bool   `json:"duplicate"`
		ID        string `json:"id"`
		Seq       int64  `json:"seq"`
		Source    string `json:"source"`
	}
	out := struct {
		Accepted   int      `json:"accepted"`
		Duplicates int      `json:"duplicates"`
		Events     []logged `json:"events"`
	}{Events: make([]logged, len(stored))}
	for i, e := range stored {
		if e.Duplicate {
			out.Duplicates++
		}
		out.Events[i] = logged{ID: e.ID, Source: e.Source, Seq: e.Seq, Duplicate: e.Duplicate}
	}
	out.Accepted = len(stored) - out.Duplicates
	writeJSON(w, http.StatusAccepted, out)
}

// DecodeEvents reads the CloudEvents of an HTTP request in any content mode.
func DecodeEvents(h http.Header, body []byte) ([]store.Event, error) {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case mt == "application/cloudevents-batch+json":
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("a batch must be a JSON array of CloudEvents: %v", err)
		}
		if len(raws) == 0 {
			return nil, errors.New("the batch is empty")
		}
		out := make([]store.Event, 0, len(raws))
		for i, raw := range raws {
			ev, err := structured(raw)
			if err != nil {
				return nil, fmt.Errorf("event %d of the batch: %w", i, err)
			}
			out = append(out, ev)
		}
		return out, nil
	case mt == "application/cloudevents+json" || h.Get("Ce-Specversion") == "" && (mt == "application/json" || mt == ""):
		ev, err := structured(body)
		if err != nil {
			return nil, err
		}
		return []store.Event{ev}, nil
	}
	ev, err := binary(h, body, mt)
	if err != nil {
		return nil, err
	}
	return []store.Event{ev}, nil
}

// structured reads an event in structured mode. Its envelope is kept as
// the client posted it (compacted), not decoded and encoded again: only the
// attributes storeflow reads are decoded, the data is left alone.
func structured(raw []byte) (store.Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return store.Event{}, fmt.Errorf("not a JSON CloudEvent object: %v", err)
	}
	str := func(k string) string {
		var s string
		if v, ok := top[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	ev, err := checkAttributes(str)
	if err != nil {
		return ev, err
	}
	var env bytes.Buffer
	env.Grow(len(raw))
	if err := json.Compact(&env, raw); err != nil {
		return store.Event{}, fmt.Errorf("not a JSON CloudEvent object: %v", err)
	}
	ev.Envelope = env.Bytes()
	return ev, nil
}

// binary reads an event whose attributes are ce-* headers and whose body is
// its data.
func binary(h http.Header, body []byte, mt string) (store.Event, error) {
	m := map[string]any{}
	for k, v := range h {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "ce-"); ok && len(v) > 0 {
			m[name] = v[0]
		}
	}
	if len(m) == 0 {
		return store.Event{}, errors.New("no CloudEvent found: send Content-Type application/cloudevents+json, a batch as application/cloudevents-batch+json, or ce-* headers (binary mode)")
	}
	if ct := h.Get("Content-Type"); ct != "" {
		m["datacontenttype"] = ct
	}
	if len(body) > 0 {
		if mt == "application/json" || strings.HasSuffix(mt, "+json") {
			var data any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&data); err != nil {
				return store.Event{}, fmt.Errorf("the body says it is JSON but is not: %v", err)
			}
			m["data"] = data
		} else {
			m["data"] = string(body)
		}
	}
	return fromAttributes(m)
}

func fromAttributes(m map[string]any) (store.Event, error) {
	ev, err := checkAttributes(func(k string) string { s, _ := m[k].(string); return s })
	if err != nil {
		return ev, err
	}
	if ev.Envelope, err = json.Marshal(m); err != nil {
		return store.Event{}, err
	}
	return ev, nil
}

// checkAttributes checks the context attributes of an event (str returns
// one, "" when absent or not a string) and returns the event they make.
func checkAttributes(str func(string) string) (store.Event, error) {
	var missing []string
	for _, k := range []string{"specversion", "id", "source", "type"} {
		if str(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return store.Event{}, fmt.Errorf("the CloudEvent lacks the required attribute(s) %s", strings.Join(missing, ", "))
	}
	if v := str("specversion"); v != "1.0" {
		return store.Event{}, fmt.Errorf("specversion %q is not supported; send CloudEvents 1.0", v)
	}
	ev := store.Event{ID: str("id"), Source: str("source"), Type: str("type"), Subject: str("subject")}
	if t := str("time"); t != "" {
		parsed, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return store.Event{}, fmt.Errorf("time %q is not an RFC 3339 timestamp", t)
		}
		ev.Time = parsed.UTC()
	}
	return ev, nil
}

// checkCommerce holds the events of storeflow's canonical commerce types
// (commerce.*) to their schemas, as the webhook adapters' events are: an
// event posted directly must look the same to a workflow.
func checkCommerce(events []store.Event) error {
	for i, e := range events {
		if !strings.HasPrefix(e.Type, "commerce.") {
			continue
		}
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(e.Envelope, &env); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, e.ID, err)
		}
		if err := commerce.Validate(e.Type, env.Data); err != nil {
			return fmt.Errorf("event %d (%s) is not a valid %s (see docs/events.md): %w", i, e.ID, e.Type, err)
		}
	}
	return nil
}
