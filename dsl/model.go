// Package dsl holds the Open Workflow DSL 1.0 definition model, its decoding
// from YAML or JSON with source positions, and its validation.
package dsl

import (
	"time"

	"github.com/storeflow/storeflow/expr"
)

// Workflow is a decoded workflow definition.
type Workflow struct {
	Document Document
	Input    *Input
	Use      *Use
	Do       TaskList
	Timeout  *TimeoutRef
	Output   *Output
	Schedule *Schedule
	Evaluate Evaluate

	// Raw is the whole document as a JSON-compatible value; it is what
	// $workflow.definition shows.
	Raw map[string]any
	// Source tells where each property was written.
	Source *Source
}

// Document describes the workflow.
type Document struct {
	DSL       string
	Namespace string
	Name      string
	Version   string
	Title     string
	Summary   string
	Tags      map[string]any
	Metadata  map[string]any
}

// Evaluate configures runtime expressions.
type Evaluate struct {
	Language string // "jq"
	Mode     string // "strict" or "loose"
}

// Expr is a runtime expression as written and, once validated, compiled.
type Expr struct {
	Src  string
	Prog *expr.Expr
	Path string // JSON Pointer of the property holding it
}

// IsSet reports whether an expression was written.
func (e *Expr) IsSet() bool { return e != nil && e.Src != "" }

// Value is a JSON-like value in which strings may be runtime expressions.
type Value struct {
	Raw  any
	Tmpl *expr.Template
	Path string
}

// IsSet reports whether a value was written.
func (v *Value) IsSet() bool { return v != nil && v.Raw != nil }

// Input configures the validation and transformation of an input.
type Input struct {
	Schema *Schema
	From   *Value
}

// Output configures the transformation and validation of an output.
type Output struct {
	Schema *Schema
	As     *Value
}

// Export configures how a task's output updates the workflow context.
type Export struct {
	Schema *Schema
	As     *Value
}

// Schema is a JSON Schema given inline or by reference.
type Schema struct {
	Format   string
	Document any
	Resource *ExternalResource
	Path     string
	// Compiled is set by validation for inline JSON schemas.
	Compiled Validator
}

// Validator validates a JSON-compatible value.
type Validator interface {
	Validate(v any) error
}

// ExternalResource points at a document outside the workflow.
type ExternalResource struct {
	Name     string
	Endpoint Endpoint
}

// Endpoint is a URI template or runtime expression, with optional authentication.
type Endpoint struct {
	URI            string
	URIExpr        *Expr // set when URI is a runtime expression
	Authentication *AuthRef
	Path           string
}

// AuthRef is an inline authentication policy or a reference to a named one.
type AuthRef struct {
	Use    string
	Policy *AuthPolicy
	Path   string
}

// AuthPolicy is one authentication scheme.
type AuthPolicy struct {
	Basic  *BasicAuth
	Bearer *BearerAuth
	Digest *BasicAuth
	OAuth2 *OAuth2Auth
	OIDC   *OAuth2Auth
}

// BasicAuth holds username/password credentials or the secret holding them.
type BasicAuth struct {
	Use      string
	Username *Value
	Password *Value
}

// BearerAuth holds a token or the secret holding it.
type BearerAuth struct {
	Use   string
	Token *Value
}

// OAuth2Auth holds OAuth2 or OpenID Connect settings or the secret holding them.
type OAuth2Auth struct {
	Use                               string
	Authority                         *Value
	Grant                             string
	ClientID, ClientSecret            *Value
	ClientAssertion                   string
	ClientAuthentication              string
	RequestEncoding                   string
	Issuers, Scopes, Audiences        []string
	Username, Password                *Value
	Subject, Actor                    *OAuth2Token
	TokenEndpoint, RevocationEndpoint string
	IntrospectionEndpoint             string
}

// OAuth2Token is a token used in token exchange.
type OAuth2Token struct {
	Token string
	Type  string
}

// Use holds the workflow's reusable components.
type Use struct {
	Authentications map[string]*AuthPolicy
	Errors          map[string]*ErrorDef
	Extensions      []*Extension
	Functions       map[string]*Task
	Retries         map[string]*RetryPolicy
	Secrets         []string
	Timeouts        map[string]*Timeout
	Catalogs        map[string]*Catalog
}

// ErrorDef defines an error to raise. Type, Instance, Title and Detail may be
// runtime expressions.
type ErrorDef struct {
	Type     *Value
	Status   *Value
	Instance *Value
	Title    *Value
	Detail   *Value
}

// Extension adds tasks before or after the tasks it extends.
type Extension struct {
	Name   string
	Extend string
	When   *Expr
	Before TaskList
	After  TaskList
}

// Catalog is a collection of reusable functions.
type Catalog struct {
	Endpoint Endpoint
}

// Timeout bounds how long a workflow or task may run.
type Timeout struct {
	After Duration
}

// TimeoutRef is an inline timeout or the name of a reusable one.
type TimeoutRef struct {
	Ref     string
	Timeout *Timeout
	Path    string
}

// Duration is an ISO 8601 duration, an inline duration object or a runtime
// expression that evaluates to one of those.
type Duration struct {
	Value time.Duration
	Expr  *Expr
	Path  string
}

// Schedule says when the workflow starts by itself.
type Schedule struct {
	Every *Duration
	Cron  string
	After *Duration
	On    *EventConsumption
	Read  string
}

// EventConsumption is the strategy of a listen task or an event-driven schedule.
type EventConsumption struct {
	All   []*EventFilter
	Any   []*EventFilter
	One   *EventFilter
	Until *Until
	Path  string
}

// Until ends an `any` consumption: a condition or another strategy.
type Until struct {
	Expr     *Expr
	Strategy *EventConsumption
}

// EventFilter matches events by their properties and correlation keys.
type EventFilter struct {
	With      map[string]*Value
	Correlate map[string]*Correlation
	Path      string
}

// Correlation extracts a key from an event and optionally expects a value.
type Correlation struct {
	From   *Expr
	Expect *Value
}

// RetryPolicy says when and how to retry a failed task.
type RetryPolicy struct {
	When       *Expr
	ExceptWhen *Expr
	Delay      *Duration
	Backoff    Backoff
	Limit      RetryLimit
	Jitter     *Jitter
}

// Backoff is the growth of the delay between attempts.
type Backoff struct {
	Kind    string // "constant", "linear", "exponential" or "" (constant)
	Options map[string]any
}

// RetryLimit bounds retries.
type RetryLimit struct {
	AttemptCount    int // 0 means unlimited
	AttemptDuration *Duration
	Duration        *Duration
}

// Jitter adds a random duration to each delay.
type Jitter struct {
	From Duration
	To   Duration
}

// RetryRef is an inline retry policy or the name of a reusable one.
type RetryRef struct {
	Ref    string
	Policy *RetryPolicy
	Path   string
}

// TaskList is an ordered list of named tasks.
type TaskList []*TaskItem

// TaskItem is one named task of a list.
type TaskItem struct {
	Name string
	Task *Task
	// Path is the task's reference, a JSON Pointer such as /do/1/sendReminder.
	Path string
}

// Index returns the position of the named task, or -1.
func (l TaskList) Index(name string) int {
	for i, item := range l {
		if item.Name == name {
			return i
		}
	}
	return -1
}

// Kind names a task type.
type Kind string

// The task types of the DSL.
const (
	KindCall   Kind = "call"
	KindDo     Kind = "do"
	KindEmit   Kind = "emit"
	KindFor    Kind = "for"
	KindFork   Kind = "fork"
	KindListen Kind = "listen"
	KindRaise  Kind = "raise"
	KindRun    Kind = "run"
	KindSet    Kind = "set"
	KindSwitch Kind = "switch"
	KindTry    Kind = "try"
	KindWait   Kind = "wait"
)

// Flow directives.
const (
	ThenContinue = "continue"
	ThenExit     = "exit"
	ThenEnd      = "end"
)

// Task is one unit of work: common properties plus the body of its kind.
type Task struct {
	Kind     Kind
	If       *Expr
	Input    *Input
	Output   *Output
	Export   *Export
	Timeout  *TimeoutRef
	Then     string
	Metadata map[string]any

	Call   *CallTask
	Do     TaskList // body of a do task
	Emit   *EmitTask
	For    *ForTask
	Fork   *ForkTask
	Listen *ListenTask
	Raise  *RaiseTask
	Run    *RunTask
	Set    *Value
	Switch []*SwitchCase
	Try    *TryTask
	Wait   *Duration

	// Raw is the task definition as written; $task.definition shows it.
	Raw map[string]any
}

// CallTask calls a service or function.
type CallTask struct {
	Call string
	// With holds the arguments of a custom or cataloged function call.
	With *Value

	HTTP     *HTTPCall
	OpenAPI  *OpenAPICall
	GRPC     *GRPCCall
	AsyncAPI *AsyncAPICall
	A2A      *A2ACall
	MCP      *MCPCall
}

// HTTPCall holds the arguments of `call: http`.
type HTTPCall struct {
	Method   *Value
	Endpoint Endpoint
	Headers  *Value
	Body     *Value
	Query    *Value
	Output   string
	Redirect bool
}

// OpenAPICall holds the arguments of `call: openapi`.
type OpenAPICall struct {
	Document       ExternalResource
	OperationID    string
	Parameters     *Value
	Authentication *AuthRef
	Output         string
	Redirect       bool
}

// GRPCCall holds the arguments of `call: grpc`.
type GRPCCall struct {
	Proto       ExternalResource
	ServiceName string
	Host        string
	Port        int
	Auth        *AuthRef
	Method      string
	Arguments   *Value
}

// AsyncAPICall holds the arguments of `call: asyncapi`.
type AsyncAPICall struct {
	Document       ExternalResource
	Channel        string
	Operation      string
	Server         map[string]any
	Protocol       string
	Message        map[string]any
	Subscription   map[string]any
	Authentication *AuthRef
}

// A2ACall holds the arguments of `call: a2a`.
type A2ACall struct {
	AgentCard  *ExternalResource
	Server     *Endpoint
	Method     string
	Parameters *Value
}

// MCPCall holds the arguments of `call: mcp`.
type MCPCall struct {
	ProtocolVersion string
	Method          string
	Parameters      *Value
	Timeout         *Duration
	Transport       map[string]any
	Client          map[string]any
}

// EmitTask emits an event.
type EmitTask struct {
	With map[string]*Value
}

// ForTask iterates over a collection.
type ForTask struct {
	Each  string
	In    *Value
	At    string
	While *Expr
	Do    TaskList
}

// ForkTask runs branches concurrently.
type ForkTask struct {
	Branches TaskList
	Compete  bool
}

// ListenTask waits for events.
type ListenTask struct {
	To      EventConsumption
	Read    string
	Foreach *SubscriptionIterator
}

// SubscriptionIterator runs tasks for each consumed event.
type SubscriptionIterator struct {
	Item   string
	At     string
	Do     TaskList
	Output *Output
	Export *Export
}

// RaiseTask raises an error.
type RaiseTask struct {
	Ref   string
	Error *ErrorDef
	Path  string
}

// RunTask runs a process or a workflow.
type RunTask struct {
	Await     bool
	Return    string
	Container *RunContainer
	Script    *RunScript
	Shell     *RunShell
	Workflow  *RunWorkflow
}

// RunContainer runs a container image.
type RunContainer struct {
	Image, Name, Command, Stdin, PullPolicy string
	Ports, Volumes, Environment             map[string]any
	Arguments                               []string
	LifetimeCleanup                         string
	LifetimeAfter                           *Duration
}

// RunScript runs a script.
type RunScript struct {
	Language    string
	Code        string
	Source      *ExternalResource
	Stdin       string
	Arguments   []string
	Environment map[string]any
}

// RunShell runs a shell command.
type RunShell struct {
	Command     string
	Stdin       string
	Arguments   []string
	Environment map[string]any
}

// RunWorkflow runs a child workflow.
type RunWorkflow struct {
	Namespace, Name, Version string
	Input                    *Value
}

// SwitchCase is one case of a switch task.
type SwitchCase struct {
	Name string
	When *Expr
	Then string
}

// TryTask runs tasks and catches their errors.
type TryTask struct {
	Try   TaskList
	Catch *Catch
}

// Catch says which errors to catch and what to do with them.
type Catch struct {
	Errors     map[string]*Value // the `errors.with` filter
	As         string
	When       *Expr
	ExceptWhen *Expr
	Retry      *RetryRef
	Do         TaskList
	Then       string
}

// hasBody reports whether the body of the task's kind was decoded.
func (t *Task) hasBody() bool {
	switch t.Kind {
	case KindCall:
		return t.Call != nil
	case KindEmit:
		return t.Emit != nil
	case KindFor:
		return t.For != nil
	case KindFork:
		return t.Fork != nil
	case KindListen:
		return t.Listen != nil
	case KindRaise:
		return t.Raise != nil && (t.Raise.Ref != "" || t.Raise.Error != nil)
	case KindRun:
		return t.Run != nil
	case KindTry:
		return t.Try != nil
	case KindWait:
		return t.Wait != nil
	case KindSet:
		return t.Set != nil
	case KindDo, KindSwitch:
		return true
	}
	return false
}
