// Package logline is the `log` built-in: a workflow writes a structured
// line to storeflow's log, tagged with its instance and task, to trace
// what a flow decided without an external service.
package logline

import (
	"context"
	"log/slog"

	"github.com/storeflow/storeflow/connector"
)

// Builtin declares `log` in the default catalog.
var Builtin = connector.Builtin{
	Name:        "log",
	Version:     "1.0.0",
	Description: "writes a structured line to storeflow's log, tagged with the instance and task",
	Schema: []byte(`{
		"type": "object",
		"required": ["message"],
		"additionalProperties": false,
		"properties": {
			"message": {"type": "string", "minLength": 1, "description": "what to log"},
			"level": {"enum": ["debug", "info", "warn", "error"], "description": "the log level; info by default"},
			"fields": {"type": "object", "description": "more attributes of the line"}
		}
	}`),
}

// Args are the arguments of `log`.
type Args struct {
	Message string         `json:"message"`
	Level   string         `json:"level,omitempty"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// Connector writes log lines to a logger.
type Connector struct {
	Logger *slog.Logger
}

// Call writes the line. Its output is what was logged.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	var a Args
	if err := connector.DecodeArgs(req, &a); err != nil {
		return nil, err
	}
	level := slog.LevelInfo
	if a.Level != "" {
		if err := level.UnmarshalText([]byte(a.Level)); err != nil {
			return nil, err
		}
	}
	attrs := []slog.Attr{slog.String("instance", req.Instance), slog.String("task", req.Task)}
	if len(a.Fields) > 0 {
		fields := make([]any, 0, len(a.Fields))
		for k, v := range a.Fields {
			fields = append(fields, slog.Any(k, v))
		}
		attrs = append(attrs, slog.Group("fields", fields...))
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, level, a.Message, attrs...)
	out := map[string]any{"message": a.Message, "level": level.String()}
	if len(a.Fields) > 0 {
		out["fields"] = a.Fields
	}
	return out, nil
}
