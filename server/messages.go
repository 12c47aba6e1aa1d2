package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/store"
)

// messageView is a message of the message log as the API shows it.
type messageView struct {
	ID         string    `json:"id"`
	Shop       string    `json:"shop,omitempty"`
	Channel    string    `json:"channel"`
	Address    string    `json:"address"`
	CustomerID string    `json:"customerId,omitempty"`
	Workflow   string    `json:"workflow,omitempty"`
	Instance   string    `json:"instance,omitempty"`
	Task       string    `json:"task,omitempty"`
	Template   string    `json:"template,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Category   string    `json:"category"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

func viewMessage(m store.Message) messageView {
	return messageView{ID: m.ID, Shop: m.Shop, Channel: m.Channel, Address: m.Address, CustomerID: m.CustomerID, Workflow: m.Workflow,
		Instance: m.Instance, Task: m.Task, Template: m.Template, Subject: m.Subject, Category: m.Category, Status: m.Status,
		Reason: m.Reason, At: m.At}
}

// listMessages: GET /v1/messages?shop=&address=&instance=&limit=&after=,
// the message log, newest first.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
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
	list, err := s.cfg.Store.ListMessages(r.Context(), store.MessageQuery{Shop: q.Get("shop"), Address: messageAddress(q.Get("address")),
		Instance: q.Get("instance"), After: q.Get("after"), Limit: limit + 1})
	if err != nil {
		storeError(w, r, err)
		return
	}
	out := map[string]any{}
	if len(list) > limit {
		list = list[:limit]
		out["next"] = list[limit-1].ID
	}
	views := make([]messageView, len(list))
	for i, m := range list {
		views[i] = viewMessage(m)
	}
	out["messages"] = views
	writeJSON(w, http.StatusOK, out)
}

// messageAddress normalises an address as the log keeps it: an email in
// lower case, a phone number in E.164, whose + a query string written
// without %2B turns into a space.
func messageAddress(a string) string {
	a = strings.TrimSpace(a)
	if strings.Contains(a, "@") {
		return commerce.NormalizeEmail(a)
	}
	if a != "" && strings.Trim(a, "0123456789") == "" {
		return "+" + a
	}
	return a
}
