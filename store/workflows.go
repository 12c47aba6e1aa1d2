package store

import (
	"context"
	"slices"
	"time"

	"github.com/storeflow/storeflow/semver"
)

// Workflow is one stored version of a definition.
type Workflow struct {
	Namespace string
	Name      string
	Version   string
	Source    []byte // the definition as posted (YAML or JSON)
	Digest    string // sha256 of Source, hex
	Enabled   bool
	CreatedAt time.Time
}

// Workflows keeps versioned definitions.
type Workflows interface {
	// PutWorkflow stores a version of a definition; the same source posted
	// again is no new version (created=false), other source under an
	// existing version is ErrVersionExists.
	PutWorkflow(ctx context.Context, w Workflow) (stored Workflow, created bool, err error)
	// GetWorkflow returns a version, or the latest one when version is ""
	// or "latest" (by semantic version, see SortVersions).
	GetWorkflow(ctx context.Context, namespace, name, version string) (Workflow, error)
	// ListWorkflows returns the latest version of every workflow.
	ListWorkflows(ctx context.Context) ([]Workflow, error)
	SetWorkflowEnabled(ctx context.Context, namespace, name string, enabled bool) error
}

// SortVersions orders versions of a workflow from oldest to latest, by
// semantic version: "1.10.0" is later than "1.9.0", whichever came first.
func SortVersions(versions []string) {
	slices.SortFunc(versions, semver.Compare)
}
