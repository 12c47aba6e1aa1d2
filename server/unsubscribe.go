package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/store"
)

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Confirm}}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe {{.Recipient}}</button></form>{{end}}
</body></html>
`))

type unsubscribeView struct {
	Title, Message, Recipient string
	Confirm                   bool
}

func writePage(w http.ResponseWriter, status int, v unsubscribeView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = unsubscribePage.Execute(w, v)
}

// unsubscribeForm answers the link a person opens: a page that asks, since
// mail scanners open links too and must not unsubscribe anyone.
func (s *Server) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	u, err := s.cfg.Unsubscribe.Verify(r.PathValue("token"))
	if err != nil {
		writePage(w, http.StatusBadRequest, unsubscribeView{Title: "This link does not work", Message: "It is not an unsubscribe link of this shop, or it was cut short. Use the link of a recent email."})
		return
	}
	writePage(w, http.StatusOK, unsubscribeView{Title: "Unsubscribe?", Recipient: u.Recipient, Confirm: true,
		Message: fmt.Sprintf("%s will get no more marketing emails from this shop. Order and delivery notices still come.", u.Recipient)})
}

// unsubscribe records an unsubscription: the one-click POST of RFC 8058
// that mail clients send, or the page's button. It becomes a
// commerce.consent.changed event, which every workflow and the customer's
// profile see; clicking twice records it once.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	u, err := s.cfg.Unsubscribe.Verify(token)
	if err != nil {
		writePage(w, http.StatusBadRequest, unsubscribeView{Title: "This link does not work", Message: "It is not an unsubscribe link of this shop, or it was cut short."})
		return
	}
	ev, err := unsubscribeEvent(u, token, time.Now())
	if err == nil {
		_, err = s.cfg.Runtime.Ingest(r.Context(), []store.Event{ev})
	}
	if err != nil {
		s.cfg.Logger.Error("record an unsubscription", "shop", u.Shop, "err", err)
		writePage(w, http.StatusServiceUnavailable, unsubscribeView{Title: "Please try again", Message: "The unsubscription could not be recorded just now."})
		return
	}
	writePage(w, http.StatusOK, unsubscribeView{Title: "You are unsubscribed", Message: fmt.Sprintf("%s will get no more marketing emails from this shop.", u.Recipient)})
}

// unsubscribeEvent is the consent event of an unsubscription; its id
// derives from the token, so that the same link records once.
func unsubscribeEvent(u email.Unsubscription, token string, now time.Time) (store.Event, error) {
	if u.Channel != email.ChannelEmail {
		return store.Event{}, errors.New("an unsubscribe link is for email")
	}
	sum := sha256.Sum256([]byte(token))
	id := "unsubscribe/" + hex.EncodeToString(sum[:12])
	data := map[string]any{"shop": u.Shop, "occurredAt": commerce.Timestamp(now), "customer": map[string]any{"email": u.Recipient},
		"channel": "email", "state": "unsubscribed", "collectedFrom": "storeflow unsubscribe link"}
	e, err := commerce.NewEvent("commerce.consent.changed", id, u.Recipient, data)
	if err != nil {
		return store.Event{}, err
	}
	e.Source = commerce.Source("storeflow", u.Shop)
	if u.MessageID != "" {
		e.Extensions = map[string]string{"messageid": u.MessageID}
	}
	env, err := e.Envelope()
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time, Envelope: env}, nil
}
