package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/webhook"
)

// MaxWebhookBody bounds a webhook's body: Shopify's order payloads with
// many lines run to hundreds of kilobytes.
const MaxWebhookBody = 5 << 20

// receiveWebhook answers a platform's webhook. It is not behind the API's
// tokens: the shop's signature authenticates it.
func (s *Server) receiveWebhook(platform string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, "Webhook Too Large", fmt.Sprintf("a webhook may have at most %d bytes", MaxWebhookBody))
			return
		}
		res, err := s.cfg.Webhooks.Receive(r.Context(), platform, r.PathValue("shop"), r.Header, body)
		if err != nil {
			status := webhook.Status(err)
			if status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "5")
			}
			writeProblemWith(w, r, status, http.StatusText(status), err.Error(), deadLetterRef(res))
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func deadLetterRef(res webhook.Result) any {
	if res.Delivery == "" {
		return nil
	}
	return map[string]string{"deadLetter": res.Delivery, "see": "/v1/deadletters/" + res.Delivery}
}

type deliveryView struct {
	ID         string            `json:"id"`
	Shop       string            `json:"shop"`
	Platform   string            `json:"platform"`
	Topic      string            `json:"topic,omitempty"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason,omitempty"`
	Events     []string          `json:"events,omitempty"`
	ReceivedAt time.Time         `json:"receivedAt"`
	UpdatedAt  time.Time         `json:"updatedAt"`
	Headers    map[string]string `json:"headers,omitempty"`
	// Body is the raw body as text; BodyBase64 when it is not UTF-8.
	Body       string `json:"body,omitempty"`
	BodyBase64 []byte `json:"bodyBase64,omitempty"`
}

func viewDelivery(d store.WebhookDelivery, full bool) deliveryView {
	v := deliveryView{ID: d.ID, Shop: d.Shop, Platform: d.Platform, Topic: d.Topic, Status: d.Status, Reason: d.Reason, Events: d.Events,
		ReceivedAt: d.ReceivedAt, UpdatedAt: d.UpdatedAt}
	if full {
		_ = json.Unmarshal(d.Headers, &v.Headers)
		if utf8.Valid(d.Body) {
			v.Body = string(d.Body)
		} else {
			v.BodyBase64 = d.Body
		}
	}
	return v
}

// listDeadLetters: GET /v1/deadletters?shop=&limit=&after=, newest first.
func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeProblem(w, r, http.StatusBadRequest, "Invalid Query", "limit is a number from 1 to 500")
			return
		}
		limit = n
	}
	list, err := s.cfg.Store.ListDeliveries(r.Context(), store.DeliveryQuery{Shop: q.Get("shop"), Status: store.DeliveryDeadLetter, After: q.Get("after"), Limit: limit + 1})
	if err != nil {
		storeError(w, r, err)
		return
	}
	out := map[string]any{}
	if len(list) > limit {
		list = list[:limit]
		out["next"] = list[limit-1].ID
	}
	views := make([]deliveryView, len(list))
	for i, d := range list {
		views[i] = viewDelivery(d, false)
	}
	out["deadLetters"] = views
	writeJSON(w, http.StatusOK, out)
}

// getDelivery: GET /v1/deadletters/{id}, with the raw body and headers.
func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.Store.GetDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewDelivery(d, true))
}

// replayDeadLetter: POST /v1/deadletters/{id}/replay.
func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	res, err := s.cfg.Webhooks.Replay(r.Context(), r.PathValue("id"))
	if err != nil {
		status := webhook.Status(err)
		writeProblem(w, r, status, http.StatusText(status), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}
