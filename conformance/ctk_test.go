package conformance_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/conformance"
	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
)

// TestCTK runs every scenario of the Open Workflow conformance kit against
// the engine, with the kit's HTTP services served locally.
func TestCTK(t *testing.T) {
	dir := conformance.RequireFeatures(t)
	conformance.RunFeatures(t, dir, runEngine)
}

func runEngine(ctx context.Context, definition []byte, input any, client *http.Client) (conformance.Outcome, error) {
	wf, err := dsl.Load("scenario.yaml", definition)
	if err != nil {
		return conformance.Outcome{}, err
	}
	vc := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := &engine.Local{Engine: engine.New(vc), Connectors: catalog.Default(catalog.Options{HTTP: &httpcall.Client{HTTP: client}}), Virtual: vc}
	res, err := l.Run(ctx, wf, input)
	if err != nil {
		return conformance.Outcome{}, err
	}
	return outcome(res), nil
}

func outcome(res *engine.Result) conformance.Outcome {
	in := res.Instance
	out := conformance.Outcome{Status: string(in.Status), Output: in.Output}
	if in.Error != nil {
		out.Error = in.Error.Map()
	}
	open := map[string]int{}
	for _, h := range res.History {
		switch h.Type {
		case "task.started":
			open[h.Task] = len(out.Tasks)
			out.Tasks = append(out.Tasks, conformance.TaskRun{Name: h.Name, Reference: h.Task})
		case "task.completed", "task.faulted", "task.cancelled", "task.skipped":
			if i, ok := open[h.Task]; ok {
				status := h.Type[len("task."):]
				if status == "skipped" {
					status = "completed"
				}
				out.Tasks[i].Status = status
				if h.Error != nil {
					out.Tasks[i].Error = h.Error.Map()
				}
				delete(open, h.Task)
			}
		}
	}
	return out
}
