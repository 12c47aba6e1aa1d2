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
	dups := 0
	ids := make([]map[string]any, len(stored))
	for i, e := range stored {
		if e.Duplicate {
			dups++
		}
		ids[i] = map[string]any{"id": e.ID, "source": e.Source, "seq": e.Seq, "duplicate": e.Duplicate}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": len(stored) - dups, "duplicates": dups, "events": ids})
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

func structured(raw []byte) (store.Event, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return store.Event{}, fmt.Errorf("not a JSON CloudEvent object: %v", err)
	}
	return fromAttributes(m)
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
	str := func(k string) string { s, _ := m[k].(string); return s }
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
	env, err := json.Marshal(m)
	if err != nil {
		return store.Event{}, err
	}
	ev.Envelope = env
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
