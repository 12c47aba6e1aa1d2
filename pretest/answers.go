package pretest

import (
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/problem"
)

// errorTypes are the DSL's standard error types by their last word, so
// that a file may write `type: communication`.
var errorTypes = map[string]string{
	"configuration":  problem.TypeConfiguration,
	"validation":     problem.TypeValidation,
	"expression":     problem.TypeExpression,
	"authentication": problem.TypeAuthentication,
	"authorization":  problem.TypeAuthorization,
	"timeout":        problem.TypeTimeout,
	"communication":  problem.TypeCommunication,
	"runtime":        problem.TypeRuntime,
}

func errorType(t string) string {
	if full, ok := errorTypes[t]; ok {
		return full
	}
	return t
}

// problem is the failure a scripted error answers with: a communication
// problem with status 503 unless the file says otherwise.
func (p *ProblemMatch) problem() *problem.Problem {
	out := &problem.Problem{Type: errorType(p.Type), Status: p.Status, Title: p.Title, Detail: p.Detail}
	if out.Type == "" {
		out.Type = problem.TypeCommunication
	}
	if out.Status == 0 {
		out.Status = 503
	}
	if out.Title == "" {
		out.Title = "Scripted Failure"
	}
	if out.Detail == "" {
		out.Detail = "a failure the pretest scripted"
	}
	return out
}

// timeoutProblem is what a connector reports when the service did not
// answer in time: transient, worth a retry.
func timeoutProblem() *problem.Problem {
	return problem.Newf(problem.TypeCommunication, 503, "Timeout", "the service did not answer in time (a timeout the pretest scripted)")
}

// defaultOutput answers an unscripted call the way the live connector's
// output looks, so that a workflow reading it (a message id) runs on.
func defaultOutput(fn string, req connector.Request) any {
	args, _ := normalize(req.Args).(map[string]any)
	at := req.At.UTC().Format(time.RFC3339Nano)
	switch fn {
	case "email.send":
		out := map[string]any{"messageId": "<" + strings.ReplaceAll(req.IdempotencyKey, "/", ".") + "@pretest.storeflow>", "to": list(args["to"]), "acceptedAt": at}
		for _, k := range []string{"category", "subject", "shop", "template", "tags"} {
			if v, ok := args[k]; ok {
				out[k] = v
			}
		}
		return out
	case "sms.send":
		return map[string]any{"sid": "SM" + fmt.Sprintf("%x", req.IdempotencyKey)[:min(32, 2*len(req.IdempotencyKey))], "status": "queued", "to": args["to"], "category": args["category"]}
	case "slack.post":
		return map[string]any{"ok": true, "webhook": args["webhook"]}
	case shopadmin.DiscountCreate, shopadmin.CustomerTag, shopadmin.OrderNote:
		// The code a live call would make; arguments were checked already.
		out, _ := shopadmin.Rehearse(req)
		return out
	}
	return nil
}

// list is a recipient argument as a list.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return []any{}
	case []any:
		return x
	}
	return []any{v}
}
